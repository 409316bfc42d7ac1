"""The controller manager on a real SQLite file: leader election across processes, the
garbage collector cascading, and failing reconciles retried while the manager keeps going."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from laneway.api.kinds import ModelCache
from laneway.api.meta import ObjectKey, Resource
from laneway.control.base import Result
from laneway.control.gc import GarbageCollector
from laneway.control.manager import Manager, ManagerOptions
from laneway.control.queue import Backoff
from laneway.store.base import NotFound
from laneway.store.sqlite import SqliteStore

LEASE = "laneway-controller-manager"

FAST = ManagerOptions(
    lease_ttl=1.0,
    renew_interval=0.1,
    renew_deadline=0.6,
    retry_interval=0.1,
    resync_period=30.0,
    backoff=Backoff(base=0.02, factor=2, cap=0.1),
    watch_backoff=Backoff(base=0.05, cap=0.2),
)

# A manager process running the garbage collector until SIGTERM (a clean stop).
MANAGER_PROCESS = """
import asyncio, signal, sys
from laneway.control.gc import GarbageCollector
from laneway.control.manager import Manager, ManagerOptions
from laneway.store.sqlite import SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1], poll_interval=0.05)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    options = ManagerOptions(lease_ttl=1.0, renew_interval=0.1, renew_deadline=0.6, retry_interval=0.1)
    manager = Manager(store, [GarbageCollector(store)], identity=sys.argv[2], options=options)
    try:
        await manager.run(stop)
    finally:
        store.close()

asyncio.run(main())
"""


def cache(name: str, *owners: Resource) -> ModelCache:
    return ModelCache.model_validate(
        {
            "metadata": {"name": name, "namespace": "ml", "ownerReferences": [o.owner_reference().wire() for o in owners]},
            "spec": {"source": "Local", "local": {"path": "/models/x"}},
        }
    )


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def gone(store: SqliteStore, name: str) -> bool:
    try:
        store.get("ModelCache", ObjectKey("ml", name))
    except NotFound:
        return True
    return False


def holder(store: SqliteStore) -> str | None:
    lease = store.get_lease(LEASE)
    return None if lease is None else lease.holder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "laneway.db", poll_interval=0.05)
    yield s
    s.close()


@pytest.fixture
def processes() -> Iterator[Callable[[str, str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(db: str, identity: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen([sys.executable, "-c", MANAGER_PROCESS, db, identity], stdout=subprocess.DEVNULL)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def test_two_manager_processes_one_leads_the_other_takes_over(
    store: SqliteStore, processes: Callable[[str, str], subprocess.Popen[bytes]]
) -> None:
    db = str(store.path)
    first = processes(db, "first")
    wait_until(lambda: holder(store) == "first")
    second = processes(db, "second")

    owner = store.create(cache("owner"))
    store.create(cache("child", owner))
    store.delete("ModelCache", owner.key)
    wait_until(lambda: gone(store, "child"))
    assert holder(store) == "first", "the standby must not take a lease that is being renewed"

    os.kill(first.pid, signal.SIGKILL)  # no release: the standby waits out the TTL
    first.wait(timeout=10)
    wait_until(lambda: holder(store) == "second")

    owner2 = store.create(cache("owner2"))
    store.create(cache("child2", owner2))
    store.delete("ModelCache", owner2.key)
    wait_until(lambda: gone(store, "child2"))

    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0
    assert holder(store) == "", "a cleanly stopped leader releases its lease"


def test_only_one_in_process_manager_reconciles_and_the_standby_takes_over_on_stop(tmp_path: Path) -> None:
    db = tmp_path / "laneway.db"
    seed = SqliteStore(db)
    seed.create(cache("x"))
    seed.close()

    class Counter:
        kind = "ModelCache"
        watches: Mapping[str, Callable[[Resource], list[ObjectKey]]] = {}

        def __init__(self) -> None:
            self.name = "counter"
            self.calls = 0

        async def reconcile(self, key: ObjectKey) -> Result:
            self.calls += 1
            return Result()

    async def main() -> None:
        s1, s2 = SqliteStore(db, poll_interval=0.05), SqliteStore(db, poll_interval=0.05)
        c1, c2 = Counter(), Counter()
        m1 = Manager(s1, [c1], identity="one", options=FAST)
        m2 = Manager(s2, [c2], identity="two", options=FAST)
        stop1, stop2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(m1.run(stop1))
        t2 = asyncio.create_task(m2.run(stop2))
        try:
            await until(lambda: c1.calls + c2.calls >= 1)
            leader, standby = (m1, m2) if m1.is_leader else (m2, m1)
            counter_of_standby = c2 if leader is m1 else c1
            await asyncio.sleep(0.5)
            assert not standby.is_leader and counter_of_standby.calls == 0
            (stop1 if leader is m1 else stop2).set()
            await until(lambda: standby.is_leader and counter_of_standby.calls >= 1)
        finally:
            stop1.set()
            stop2.set()
            await asyncio.wait_for(asyncio.gather(t1, t2), 20)
            s1.close()
            s2.close()

    asyncio.run(main())


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_gc_cascades_owner_child_grandchild_and_respects_finalizers(store: SqliteStore) -> None:
    owner = store.create(cache("owner"))
    child = cache("child", owner)
    child.metadata.finalizers = ["laneway.dev/teardown"]
    child = store.create(child)
    store.create(cache("grandchild", child))
    manager = Manager(store, [GarbageCollector(store)], identity="gc", options=FAST)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        try:
            await until(lambda: manager.is_leader)
            store.delete("ModelCache", owner.key)
            await until(lambda: bool(store.get("ModelCache", child.key).metadata.deletion_timestamp))
            assert not gone(store, "grandchild"), "the child is still there (finalizer), so its child stays"
            marked = store.get("ModelCache", child.key)
            marked.metadata.finalizers = []
            store.update(marked)  # the finalizer's owner finishes: the child goes ...
            await until(lambda: gone(store, "child") and gone(store, "grandchild"))  # ... and so does its child
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    asyncio.run(main())


def test_a_failing_reconcile_is_retried_and_the_manager_keeps_running(store: SqliteStore) -> None:
    store.create(cache("flaky"))
    attempts: list[float] = []

    class Flaky:
        name = "flaky"
        kind = "ModelCache"
        watches: Mapping[str, Callable[[Resource], list[ObjectKey]]] = {}

        def __init__(self) -> None:
            self.seen: set[str] = set()

        async def reconcile(self, key: ObjectKey) -> Result:
            self.seen.add(key.name)
            if key.name == "flaky":
                attempts.append(time.monotonic())
                if len(attempts) < 4:
                    raise ConnectionError("the cluster did not answer")
            return Result()

    flaky = Flaky()
    manager = Manager(store, [flaky], identity="m", options=FAST)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        try:
            await until(lambda: len(attempts) >= 4)
            store.create(cache("next"))
            await until(lambda: "next" in flaky.seen)
            assert manager.is_leader and not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    asyncio.run(main())
    assert len(attempts) == 4
