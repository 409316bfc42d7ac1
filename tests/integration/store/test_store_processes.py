"""SqliteStore across threads and processes, and its durability under kill -9.

Each test starts its writers as child processes (store_child.py) on a file under tmp_path,
bounds every wait, and kills whatever is still running when it ends.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

from store_children import (
    acknowledged_until_killed,
    endpoint,
    spawn,
    threads_bump_one_counter,
    two_writer_processes_share_the_store,
)

from laneway.store.sqlite import SqliteStore

KIND = "ModelEndpoint"


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_two_processes_share_one_file(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "laneway.db"
    store = SqliteStore(db, poll_interval=0.02)  # woken through the cross-process poll
    try:
        two_writer_processes_share_the_store(store, str(db), children)
    finally:
        store.close()
    assert integrity(db) == "ok"


def test_threads_on_two_connections(tmp_path: Path) -> None:
    db = tmp_path / "laneway.db"
    one, two = SqliteStore(db), SqliteStore(db)
    try:
        threads_bump_one_counter(one, two)
    finally:
        one.close()
        two.close()


def _kill_mid_write(db: Path, prefix: str, after: int, children: list[subprocess.Popen[str]]) -> list[str]:
    """Start a writer, SIGKILL it once it acknowledged `after` objects, return every name it acknowledged."""
    proc = spawn(children, "forever", str(db), prefix)
    acknowledged = acknowledged_until_killed(proc, after, lambda: proc.send_signal(signal.SIGKILL))
    assert proc.returncode == -signal.SIGKILL
    return acknowledged


def test_kill_9_mid_write_loses_nothing_acknowledged(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "laneway.db"
    acknowledged = _kill_mid_write(db, "a", 120, children)
    acknowledged += _kill_mid_write(db, "b", 1, children)  # killed right after it starts
    assert len(acknowledged) >= 121

    assert integrity(db) == "ok"
    store = SqliteStore(db)
    try:
        stored = {o.name for o in store.list(KIND, namespace="procs").items}
        missing = [name for name in acknowledged if name not in stored]
        assert missing == []
        # The revision stream agrees with the objects: one event per stored object.
        assert len(store.events_since(0, limit=100_000)) == len(stored) == store.revision()
        store.create(endpoint("after-restart"))  # and the file is writable again
    finally:
        store.close()
    assert integrity(db) == "ok"
