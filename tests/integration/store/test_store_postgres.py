"""PostgresStore across processes, and durability when a writer, the database or a whole
`laneway up` is killed with SIGKILL mid-write.

Every test gets a fresh database on the session's real PostgreSQL server (tests/conftest.py);
writers are child processes (store_child.py) killed when the test ends, whatever happened.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from store_children import (
    acknowledged_until_killed,
    endpoint,
    spawn,
    threads_bump_one_counter,
    two_writer_processes_share_the_store,
)

from laneway.api.kinds import ModelEndpoint
from laneway.client import ApiError, Client, ServerUnreachable
from laneway.server.auth import hash_token
from laneway.store.postgres import PostgresStore, StoreUnavailable
from laneway.testing.postgres import PostgresServer

KIND = "ModelEndpoint"
ADMIN_TOKEN = "lw_" + "a1" * 22
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Up


def test_two_processes_share_one_database_and_notify_wakes_watchers(
    postgres_dsn: str, children: list[subprocess.Popen[str]]
) -> None:
    # A poll interval longer than the test: only LISTEN/NOTIFY can wake this store's waiters.
    store = PostgresStore(postgres_dsn, poll_interval=3600.0)
    try:
        two_writer_processes_share_the_store(store, postgres_dsn, children)
    finally:
        store.close()


def test_threads_on_two_stores_conflict_instead_of_losing_updates(postgres_dsn: str) -> None:
    one, two = PostgresStore(postgres_dsn), PostgresStore(postgres_dsn)
    try:
        threads_bump_one_counter(one, two)
    finally:
        one.close()
        two.close()


def _stored_names(dsn: str) -> set[str]:
    store = PostgresStore(dsn)
    try:
        return {o.name for o in store.list(KIND, namespace="procs").items}
    finally:
        store.close()


def test_kill_9_of_a_writer_loses_nothing_acknowledged(postgres_dsn: str, children: list[subprocess.Popen[str]]) -> None:
    proc = spawn(children, "forever", postgres_dsn, "a")
    acknowledged = acknowledged_until_killed(proc, 100, lambda: proc.send_signal(signal.SIGKILL))
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 100
    stored = _stored_names(postgres_dsn)
    assert [n for n in acknowledged if n not in stored] == []
    store = PostgresStore(postgres_dsn)
    try:  # the revision stream agrees with the objects, and the database takes writes again
        assert len(store.events_since(0, limit=100_000)) == len(stored) == store.revision()
        store.create(endpoint("after-restart"))
    finally:
        store.close()


def test_kill_9_of_the_database_loses_nothing_acknowledged(
    postgres: PostgresServer, postgres_dsn: str, children: list[subprocess.Popen[str]]
) -> None:
    proc = spawn(children, "forever", postgres_dsn, "d")
    try:
        acknowledged = acknowledged_until_killed(proc, 60, lambda: postgres.stop(kill=True))
        assert proc.returncode not in (0, None)  # the writer saw the database go
        with pytest.raises(StoreUnavailable):
            PostgresStore(postgres_dsn, connect_timeout=2)
    finally:
        postgres.start()
    stored = _stored_names(postgres_dsn)
    assert len(acknowledged) >= 60
    assert [n for n in acknowledged if n not in stored] == []


def test_kill_9_of_laneway_up_under_api_writers_loses_nothing_acknowledged(postgres_dsn: str, tmp_path: Path) -> None:
    """Writers through the HTTP API; the `laneway up` serving them is SIGKILLed mid-stream and
    another started on the same database: every write the API acknowledged is there. Both are
    given one admin token (--admin-token-file): the store holds that one and mints none."""
    token_file = tmp_path / "admin-token"
    token_file.write_text(ADMIN_TOKEN)
    args = ("--store", postgres_dsn, "--admin-token-file", str(token_file))
    up = Up.start(tmp_path / "one", local_cluster=False, args=args)
    acknowledged: list[str] = []
    failed = threading.Event()
    stop = threading.Event()

    def writer(prefix: str, client: Client) -> None:
        i = 0
        while not stop.is_set():
            name = f"{prefix}-{i}"
            try:
                client.create(endpoint(name))
            except (ApiError, ServerUnreachable, OSError):  # the server went: the write was not acknowledged
                failed.set()
                return
            acknowledged.append(name)
            i += 1

    try:
        up.wait_ready()
        token = (up.data_dir / "admin.token").read_text().strip()
        clients = [Client(f"http://127.0.0.1:{up.port}", token) for _ in range(3)]
        threads = [threading.Thread(target=writer, args=(f"api{n}", c)) for n, c in enumerate(clients)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 90 and time.monotonic() < deadline and not failed.is_set():
            time.sleep(0.05)
        assert len(acknowledged) >= 90, up.output
        up.process.send_signal(signal.SIGKILL)
        up.process.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        for c in clients:
            c.close()
    finally:
        stop.set()
        up.stop()

    again = Up.start(tmp_path / "two", local_cluster=False, args=args)
    try:
        again.wait_ready()
        token = (again.data_dir / "admin.token").read_text().strip()
        with Client(f"http://127.0.0.1:{again.port}", token) as client:
            stored = {o.name for o in client.list(ModelEndpoint, namespace="procs").items}
        assert [n for n in acknowledged if n not in stored] == []
    finally:
        again.stop()
    store = PostgresStore(postgres_dsn)
    try:
        admins = [r.token_sha256 for r in store.list_tokens() if r.role == "admin" and not r.revoked]
    finally:
        store.close()
    assert admins == [hash_token(ADMIN_TOKEN)]
