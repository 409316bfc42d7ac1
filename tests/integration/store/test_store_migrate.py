"""`laneway store migrate` on a real PostgreSQL: creates the schema, records its version,
upgrades an older one, and refuses a database newer than this laneway."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from laneway.store.base import StoreError
from laneway.store.postgres import (
    SCHEMA_VERSION,
    PostgresStore,
    migrate,
    schema_version,
)


def _migrate_cli(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "laneway.cli.main", "store", "migrate", "--store", target],
                          capture_output=True, text=True, timeout=120)


def test_migrate_creates_then_reports_the_version(postgres_dsn: str) -> None:
    first = _migrate_cli(postgres_dsn)
    assert first.returncode == 0, first.stderr
    assert f"schema migrated from 0 to version {SCHEMA_VERSION}" in first.stdout
    again = _migrate_cli(postgres_dsn)
    assert again.returncode == 0 and f"already at version {SCHEMA_VERSION}" in again.stdout
    with psycopg.connect(postgres_dsn) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_an_older_schema_is_upgraded_and_keeps_its_objects(postgres_dsn: str) -> None:
    from store_children import endpoint

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        assert migrate(conn, target=1) == (0, 1)
        assert conn.execute("SELECT to_regclass('budgets')").fetchone() == (None,)
    with pytest.raises(StoreError, match="laneway store migrate"):
        PostgresStore(postgres_dsn, auto_migrate=False, listen=False)
    upgraded = _migrate_cli(postgres_dsn)
    assert upgraded.returncode == 0 and f"migrated from 1 to version {SCHEMA_VERSION}" in upgraded.stdout
    store = PostgresStore(postgres_dsn, auto_migrate=False)
    try:
        store.create(endpoint("kept"))
        assert store.take_budget("k", capacity=10, per_second=1, want=3).granted == 3
    finally:
        store.close()


def test_a_newer_schema_is_refused_with_what_to_do(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE laneway_schema SET version = 99")
    with pytest.raises(StoreError, match=r"version 99, newer than this laneway understands .*upgrade laneway"):
        PostgresStore(postgres_dsn)
    refused = _migrate_cli(postgres_dsn)
    assert refused.returncode == 1
    assert "upgrade laneway" in refused.stderr and "Traceback" not in refused.stderr


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    from laneway.testing.postgres import free_port

    refused = _migrate_cli(f"postgresql://laneway:hunter2@127.0.0.1:{free_port()}/laneway?connect_timeout=2")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: the PostgreSQL store at postgresql://laneway:***@127.0.0.1")
    assert "hunter2" not in refused.stderr and "Traceback" not in refused.stderr
