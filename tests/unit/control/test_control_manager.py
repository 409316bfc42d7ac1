"""The controller manager against a MemoryStore: dispatch, retries, leadership, shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from laneway.api.kinds import ModelCache, Secret
from laneway.api.meta import ObjectKey, ObjectMeta, Resource
from laneway.control import manager as manager_module
from laneway.control.base import KeyMapper, Result
from laneway.control.gc import GarbageCollector
from laneway.control.manager import Manager, ManagerOptions, keys_for, kinds_needed
from laneway.control.queue import Backoff
from laneway.store.base import Gone, NotFound, Store, WatchEvent
from laneway.store.memory import MemoryStore

FAST = ManagerOptions(
    lease_ttl=1.0,
    renew_interval=0.05,
    renew_deadline=0.5,
    retry_interval=0.05,
    resync_period=60.0,
    backoff=Backoff(base=0.01, factor=2, cap=0.05),
    watch_backoff=Backoff(base=0.01, cap=0.05),
)


def cache(name: str, *owners: Resource) -> ModelCache:
    return ModelCache.model_validate(
        {
            "metadata": {"name": name, "namespace": "ml", "ownerReferences": [o.owner_reference().wire() for o in owners]},
            "spec": {"source": "Local", "local": {"path": "/models/x"}},
        }
    )


class Recorder:
    """Records every reconcile; fails a key a set number of times; may ask for a requeue."""

    name = "recorder"
    kind = "ModelCache"

    def __init__(self, *, failures: Mapping[str, int] | None = None, requeue: Mapping[str, int] | None = None) -> None:
        self.calls: list[ObjectKey] = []
        self._failures = dict(failures or {})
        self._requeue = dict(requeue or {})
        self.watches: dict[str, KeyMapper] = {
            "Secret": lambda s: [ObjectKey(s.namespace, s.metadata.labels["cache"])] if "cache" in s.metadata.labels else []
        }

    def count(self, name: str) -> int:
        return sum(1 for k in self.calls if k.name == name)

    async def reconcile(self, key: ObjectKey) -> Result:
        self.calls.append(key)
        if self._failures.get(key.name, 0) > 0:
            self._failures[key.name] -= 1
            raise RuntimeError(f"boom on {key.name}")
        if self._requeue.get(key.name, 0) > 0:
            self._requeue[key.name] -= 1
            return Result(requeue_after=0.01)
        return Result()


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `check()` holds; fail the test if it does not within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def running(manager: Manager, body: Callable[[], Awaitable[None]]) -> None:
    """Run `manager` while `body` runs, then stop it and prove nothing it started is left."""
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop))
    try:
        await body()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == [], f"tasks left running: {leftovers}"


def test_listed_objects_and_later_changes_are_reconciled() -> None:
    store = MemoryStore()
    store.create(cache("before"))
    rec = Recorder()
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: rec.count("before") >= 1)
        assert mgr.is_leader
        store.create(cache("after"))
        await eventually(lambda: rec.count("after") >= 1)
        store.create(Secret(metadata=ObjectMeta(name="s", namespace="ml", labels={"cache": "before"})))
        await eventually(lambda: rec.count("before") >= 2)

    asyncio.run(running(mgr, body))
    assert store.get_lease(FAST.lease_name).holder == "", "a stopping leader releases its lease"


def test_a_failing_reconcile_is_retried_with_backoff_and_the_manager_keeps_going(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    store.create(cache("bad"))
    store.create(cache("good"))
    rec = Recorder(failures={"bad": 3})
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: rec.count("bad") >= 4)
        await eventually(lambda: rec.count("good") >= 1)
        store.create(cache("later"))
        await eventually(lambda: rec.count("later") >= 1)
        assert mgr.is_leader

    with caplog.at_level(logging.WARNING, logger="laneway.control.manager"):
        asyncio.run(running(mgr, body))
    assert rec.count("bad") == 4, "retried until it succeeded, then left alone"
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 3
    assert all("ml/bad" in m and "recorder" in m for m in failures)
    assert "failure 3" in failures[-1]


def test_requeue_after_brings_a_key_back_without_an_event() -> None:
    store = MemoryStore()
    store.create(cache("poll"))
    rec = Recorder(requeue={"poll": 2})
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: rec.count("poll") >= 3)

    asyncio.run(running(mgr, body))


def test_a_broken_mapper_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    rec = Recorder()
    rec.watches = {"Secret": lambda s: [ObjectKey("ml", s.metadata.labels["missing"])]}
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: mgr.is_leader)
        store.create(Secret(metadata=ObjectMeta(name="s", namespace="ml")))
        store.create(cache("after"))
        await eventually(lambda: rec.count("after") >= 1)

    with caplog.at_level(logging.ERROR, logger="laneway.control.manager"):
        asyncio.run(running(mgr, body))
    assert any("mapping Secret ml/s" in r.getMessage() for r in caplog.records)


def test_gone_makes_the_manager_list_again(monkeypatch: pytest.MonkeyPatch) -> None:
    real_watch = manager_module.watch
    calls: list[int] = []

    async def flaky_watch(store: Store, *, kinds: frozenset[str] | None, since: int) -> AsyncIterator[WatchEvent]:
        calls.append(since)
        if len(calls) == 1:
            raise Gone("compacted")
        async for event in real_watch(store, kinds=kinds, since=since):
            yield event

    monkeypatch.setattr(manager_module, "watch", flaky_watch)
    store = MemoryStore()
    store.create(cache("a"))
    rec = Recorder()
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: len(calls) >= 2 and rec.count("a") >= 1)
        store.create(cache("b"))
        await eventually(lambda: rec.count("b") >= 1)

    asyncio.run(running(mgr, body))


def test_only_one_of_two_managers_leads_and_the_standby_takes_over() -> None:
    store = MemoryStore()
    store.create(cache("x"))
    first, second = Recorder(), Recorder()
    m1 = Manager(store, [first], identity="m1", options=FAST)
    m2 = Manager(store, [second], identity="m2", options=FAST)

    async def main() -> None:
        stop1, stop2 = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(m1.run(stop1))
        await eventually(lambda: m1.is_leader)
        t2 = asyncio.create_task(m2.run(stop2))
        await asyncio.sleep(0.3)  # several retry intervals of the standby
        assert not m2.is_leader and second.calls == []
        stop1.set()
        await asyncio.wait_for(t1, 10)
        await eventually(lambda: m2.is_leader)
        await eventually(lambda: second.count("x") >= 1)
        stop2.set()
        await asyncio.wait_for(t2, 10)

    asyncio.run(main())


def test_a_leader_whose_lease_is_taken_stops_reconciling() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    rec = Recorder()
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: mgr.is_leader)
        now[0] += 60  # the lease expires (as if the leader had stalled) ...
        assert store.acquire_lease(FAST.lease_name, "intruder", 3600)  # ... and another takes it
        await eventually(lambda: not mgr.is_leader)
        calls = len(rec.calls)
        store.create(cache("unseen"))
        await asyncio.sleep(0.2)
        assert len(rec.calls) == calls, "a manager without the lease must not reconcile"

    asyncio.run(running(mgr, body))
    assert store.get_lease(FAST.lease_name).holder == "intruder", "a standby never releases someone else's lease"


def test_the_garbage_collector_cascades_through_the_manager() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner"))
    child = store.create(cache("child", owner))
    store.create(cache("grandchild", child))
    mgr = Manager(store, [GarbageCollector(store)], identity="m1", options=FAST)

    def gone(name: str) -> bool:
        try:
            store.get("ModelCache", ObjectKey("ml", name))
        except NotFound:
            return True
        return False

    async def body() -> None:
        await eventually(lambda: mgr.is_leader)
        store.delete("ModelCache", owner.key)
        await eventually(lambda: gone("child") and gone("grandchild"))

    asyncio.run(running(mgr, body))


def test_orphans_left_while_no_manager_ran_are_swept_at_start() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner"))
    store.create(cache("child", owner))
    store.delete("ModelCache", owner.key)
    mgr = Manager(store, [GarbageCollector(store)], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: store.list("ModelCache").items == [])

    asyncio.run(running(mgr, body))


# -- the resync: only what the watch missed ---------------------------------------------------


class DeafStore(MemoryStore):
    """A store whose watch stream drops every event of the objects named in `unheard` (a
    missed event, as a bug between store and manager would lose it), and counts resyncs."""

    def __init__(self) -> None:
        super().__init__()
        self.unheard: set[str] = set()
        self.resyncs = 0

    def events_since(self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000) -> list[WatchEvent]:
        return [e for e in super().events_since(revision, kinds=kinds, limit=limit) if e.object.name not in self.unheard]

    def resource_versions(self, kind: str) -> dict[ObjectKey, int]:
        self.resyncs += 1
        return super().resource_versions(kind)


RESYNC_OFTEN = ManagerOptions(
    lease_ttl=FAST.lease_ttl, renew_interval=FAST.renew_interval, renew_deadline=FAST.renew_deadline,
    retry_interval=FAST.retry_interval, resync_period=0.05, backoff=FAST.backoff, watch_backoff=FAST.watch_backoff,
)


def test_a_resync_reconciles_nothing_that_is_unchanged() -> None:
    store = DeafStore()
    store.create(cache("steady"))
    rec = Recorder()
    mgr = Manager(store, [rec], identity="m1", options=RESYNC_OFTEN)

    async def body() -> None:
        await eventually(lambda: rec.count("steady") >= 1)
        start = store.resyncs
        await eventually(lambda: store.resyncs >= start + 5)

    asyncio.run(running(mgr, body))
    assert rec.count("steady") == 1, "five resyncs later the unchanged object was not reconciled again"


def test_a_change_whose_event_was_missed_is_reconciled_at_the_next_resync() -> None:
    store = DeafStore()
    store.create(cache("heard"))
    rec = Recorder()
    mgr = Manager(store, [rec], identity="m1", options=RESYNC_OFTEN)

    async def body() -> None:
        await eventually(lambda: rec.count("heard") >= 1)
        store.unheard.add("missed")
        store.create(cache("missed"))
        await eventually(lambda: rec.count("missed") >= 1)
        updated = store.get("ModelCache", ObjectKey("ml", "missed"))
        store.update(updated.model_copy(update={"metadata": updated.metadata.model_copy(update={"labels": {"v": "2"}})}))
        await eventually(lambda: rec.count("missed") >= 2)

    asyncio.run(running(mgr, body))
    assert rec.count("heard") == 1


def test_a_deletion_whose_event_was_missed_lists_everything_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "CONFIRM_DELAY", 0.01)
    store = DeafStore()
    owner = store.create(cache("owner"))
    store.create(cache("child", owner))
    collector = GarbageCollector(store)
    mgr = Manager(store, [collector], identity="m1", options=RESYNC_OFTEN)

    async def body() -> None:
        await eventually(lambda: mgr.is_leader and store.resyncs >= 2)
        store.unheard.add("owner")
        store.delete("ModelCache", owner.key)  # the collector never hears of it from the watch
        await eventually(lambda: [c.name for c in store.list("ModelCache").items] == [])

    asyncio.run(running(mgr, body))


# -- refusing bad set-ups --------------------------------------------------------------------


class Named:
    def __init__(self, name: str, kind: str = "ModelCache", watches: Mapping[str, Any] | None = None, concurrency: Any = 1):
        self.name, self.kind, self.watches, self.concurrency = name, kind, dict(watches or {}), concurrency

    async def reconcile(self, key: ObjectKey) -> Result:
        return Result()


def test_bad_setups_are_refused_with_what_to_fix() -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="unknown kind 'ModelDeploymnet'"):
        Manager(store, [Named("a", kind="ModelDeploymnet")], identity="m")
    with pytest.raises(ValueError, match="unknown kind 'Nope'"):
        Manager(store, [Named("a", watches={"Nope": lambda o: []})], identity="m")
    with pytest.raises(ValueError, match="registered twice: a"):
        Manager(store, [Named("a"), Named("a")], identity="m")
    with pytest.raises(ValueError, match="concurrency 0"):
        Manager(store, [Named("a", concurrency=0)], identity="m")
    with pytest.raises(ValueError, match="non-empty identity"):
        Manager(store, [], identity="")
    with pytest.raises(ValueError, match="renew_interval < renew_deadline <= lease_ttl"):
        ManagerOptions(lease_ttl=1, renew_interval=2, renew_deadline=3)
    with pytest.raises(ValueError, match="resync_period"):
        ManagerOptions(resync_period=0)
    with pytest.raises(ValueError, match="requeue_after"):
        Result(requeue_after=-1)


def test_keys_for_and_kinds_needed_are_pure() -> None:
    rec = Recorder()
    assert keys_for(rec, cache("a")) == [ObjectKey("ml", "a")]
    secret = Secret(metadata=ObjectMeta(name="s", namespace="ml", labels={"cache": "a"}))
    assert keys_for(rec, secret) == [ObjectKey("ml", "a")]
    assert kinds_needed([rec]) == frozenset({"ModelCache", "Secret"})
    assert "ModelReplica" in kinds_needed([GarbageCollector(MemoryStore())])


def test_a_hanging_reconcile_times_out_and_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    store.create(cache("slow"))
    calls: list[ObjectKey] = []

    class Hangs:
        name = "hangs"
        kind = "ModelCache"
        watches: Mapping[str, KeyMapper] = {}

        async def reconcile(self, key: ObjectKey) -> Result:
            calls.append(key)
            if len(calls) == 1:
                await asyncio.Event().wait()  # never returns
            return Result()

    options = ManagerOptions(**{**FAST.__dict__, "reconcile_timeout": 0.05})
    mgr = Manager(store, [Hangs()], identity="m1", options=options)

    async def body() -> None:
        await eventually(lambda: len(calls) >= 2)

    with caplog.at_level(logging.WARNING, logger="laneway.control.manager"):
        asyncio.run(running(mgr, body))
    assert any("timed out after 0.05s" in r.getMessage() for r in caplog.records)


def test_owner_keys_maps_an_object_to_its_owners_of_one_kind() -> None:
    from laneway.api.kinds import InferenceCluster
    from laneway.api.meta import OwnerReference
    from laneway.control.base import owner_keys

    child = cache("child").model_copy(deep=True)
    child.metadata.owner_references = [
        OwnerReference(kind="ModelCache", name="parent", uid="u1"),
        OwnerReference(kind="InferenceCluster", name="gpu-east", uid="u2"),
    ]
    assert list(owner_keys("ModelCache")(child)) == [ObjectKey("ml", "parent")]
    assert InferenceCluster.NAMESPACED is False
    assert list(owner_keys("InferenceCluster")(child)) == [ObjectKey("", "gpu-east")]
