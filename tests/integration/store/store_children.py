"""What the SQLite and PostgreSQL multi-process tests share: writer child processes
(store_child.py), killing one mid-write, and the scenarios both backends must pass. The
`children` fixture (conftest.py) kills every child after each test."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from store_child import bump, endpoint

from laneway.api.meta import ObjectKey
from laneway.store.base import Store

CHILD = Path(__file__).with_name("store_child.py")
KIND = "ModelEndpoint"


def spawn(children: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    """A store_child.py process (`write`, `forever` or `bump`) with its output piped."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    children.append(proc)
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def acknowledged_until_killed(proc: subprocess.Popen[str], after: int, kill: Callable[[], None]) -> list[str]:
    """Every name a `forever` writer acknowledged, once `kill()` ended it after `after` of them."""
    assert proc.stdout is not None
    acknowledged: list[str] = []
    for line in proc.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= after:
            break
    kill()
    rest, _ = proc.communicate(timeout=60)
    return acknowledged + rest.split()  # printed before the kill landed: acknowledged too


def two_writer_processes_share_the_store(store: Store, target: str, children: list[subprocess.Popen[str]]) -> None:
    """A read-modify-write process and a creating process on `target`, while `store` (this
    process's, on the same target) waits for their writes: none is lost, the revisions are one
    sequence without gaps."""
    store.create(endpoint("counter"))
    start = store.revision()
    bumper = spawn(children, "bump", target, "counter", "20")
    writer = spawn(children, "write", target, "w", "20")
    assert store.wait_for_revision(start, timeout=90) > start  # woken by another process's write
    finish(bumper)
    written = finish(writer).split()
    assert written == [f"w-{i}" for i in range(20)]

    # Optimistic concurrency held across processes: 20 read-modify-writes, none lost.
    assert store.get(KIND, ObjectKey("procs", "counter")).metadata.annotations["n"] == "20"
    names = {o.name for o in store.list(KIND, namespace="procs").items}
    assert names == {"counter", *written}
    events = store.events_since(start)
    assert [e.revision for e in events] == list(range(start + 1, start + 41))  # one sequence, no gaps
    assert store.revision() == start + 40


def threads_bump_one_counter(one: Store, two: Store) -> None:
    """Four threads over two stores on one target read-modify-write one counter ten times each,
    retrying conflicts: all forty increments land."""
    one.create(endpoint("counter"))
    threads = [threading.Thread(target=bump, args=(s, "counter", 10)) for s in (one, two, one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert two.get(KIND, ObjectKey("procs", "counter")).metadata.annotations["n"] == "40"
