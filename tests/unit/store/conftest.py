"""The contract suite runs every test against each backend: MemoryStore, SqliteStore and
PostgresStore. The PostgreSQL server is real: one per test session, started with initdb in a
temp dir on a free loopback port and stopped (its dir removed) after; every test gets emptied
tables. It is skipped only where the PostgreSQL binaries are not installed (CI installs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from laneway.store.base import Store
from laneway.store.memory import MemoryStore
from laneway.store.sqlite import SqliteStore
from laneway.testing.postgres import PostgresServer

_TABLES = "objects, owner_refs, events, leases, tokens"


class FakeClock:
    """A wall clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _emptied(dsn: str) -> None:
    import psycopg

    from laneway.store.postgres import migrate

    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute(f"TRUNCATE {_TABLES}")
        conn.execute("UPDATE meta SET value = 0")


def _make(request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock, retention: int) -> Store:
    if backend == "memory":
        return MemoryStore(clock=clock, event_retention=retention)
    if backend == "postgresql":
        from laneway.store.postgres import PostgresStore

        server: PostgresServer = request.getfixturevalue("postgres")  # tests/conftest.py
        _emptied(server.dsn)
        return PostgresStore(server.dsn, clock=clock, event_retention=retention, pool_size=4)
    return SqliteStore(tmp_path / "laneway.db", clock=clock, event_retention=retention, poll_interval=0.02)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = _make(request, backend, tmp_path, clock, retention=10_000)
    yield s
    s.close()


@pytest.fixture
def small_store(request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """A store that keeps only 10 events, to reach compaction quickly."""
    s = _make(request, backend, tmp_path, clock, retention=10)
    yield s
    s.close()
