"""SqliteStore across threads and processes, and its durability under kill -9.

Each test starts its writers as child processes (store_child.py) on a file under tmp_path,
bounds every wait, and kills whatever is still running when it ends.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

from store_children import endpoint, finish, spawn

from laneway.api.meta import ObjectKey
from laneway.store.base import Conflict
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
    store = SqliteStore(db, poll_interval=0.02)
    try:
        store.create(endpoint("counter"))
        start = store.revision()
        bumper = spawn(children, "bump", str(db), "counter", "20")
        writer = spawn(children, "write", str(db), "w", "20")
        # Woken by another process's write: the cross-process poll, not the in-process signal.
        assert store.wait_for_revision(start, timeout=60) > start
        finish(bumper)
        written = finish(writer).split()
        assert written == [f"w-{i}" for i in range(20)]

        assert store.get(KIND, ObjectKey("procs", "counter")).metadata.annotations["n"] == "20"
        names = {o.name for o in store.list(KIND, namespace="procs").items}
        assert names == {"counter", *written}
        events = store.events_since(start)
        assert [e.revision for e in events] == list(range(start + 1, start + 41))  # one sequence, no gaps
        assert store.revision() == start + 40
    finally:
        store.close()
    assert integrity(db) == "ok"


def test_threads_on_two_connections(tmp_path: Path) -> None:
    db = tmp_path / "laneway.db"
    one, two = SqliteStore(db), SqliteStore(db)
    try:
        one.create(endpoint("counter"))
        key = ObjectKey("procs", "counter")

        def bump(store: SqliteStore, times: int) -> None:
            for _ in range(times):
                while True:
                    obj = store.get(KIND, key)
                    obj.metadata.annotations["n"] = str(int(obj.metadata.annotations.get("n", "0")) + 1)
                    try:
                        store.update(obj)
                        break
                    except Conflict:
                        continue

        threads = [threading.Thread(target=bump, args=(s, 10)) for s in (one, two, one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert two.get(KIND, key).metadata.annotations["n"] == "40"
    finally:
        one.close()
        two.close()


def _kill_mid_write(db: Path, prefix: str, after: int, children: list[subprocess.Popen[str]]) -> list[str]:
    """Start a writer, SIGKILL it once it acknowledged `after` objects, return every name it acknowledged."""
    proc = spawn(children, "forever", str(db), prefix)
    assert proc.stdout is not None
    acknowledged: list[str] = []
    for line in proc.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= after:
            break
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    acknowledged += rest.split()  # printed before the kill landed: acknowledged too
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
