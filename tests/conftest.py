"""Fixtures every test directory may use.

`postgres`: one real PostgreSQL server for the whole test session (initdb in a temp dir, a free
loopback port; stopped and its dir removed at the end, even after failures). Tests that use it
are skipped only where the PostgreSQL binaries are not installed; CI installs them (.ci/run).
`postgres_dsn`: a fresh, empty database on that server for one test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from laneway.testing.postgres import PostgresServer, postgres_bin_dir, postgres_server

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql); .ci/run installs it")
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres: PostgresServer) -> str:
    if not postgres.running:  # a test that stopped the server and failed before restarting it
        postgres.start()
    return postgres.create_database(f"t{next(_databases)}")
