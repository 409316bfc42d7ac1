"""The ModelCache controller against an HTTP file server on loopback, and the gates it drives:
placement only where the cache is, replicas start only once it is Ready there."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

from cache_servers import FileServer

from laneway.api.conditions import find_condition
from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.meta import Condition, ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cache import FINALIZER, CacheController
from laneway.control.deployment import DeploymentController
from laneway.control.replica import ReplicaController
from laneway.drivers.base import MemberObservation, ReplicaObservation, ServingAddress
from laneway.drivers.registry import DriverSet
from laneway.paths import DataDir
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_cache, add_class, add_cluster, add_deployment, add_gateway

WEIGHTS = os.urandom(2 * 1024 * 1024)


class FakeDriver:
    def __init__(self) -> None:
        self.applied: list[str] = []

    async def apply(self, replica, cluster) -> None:  # type: ignore[no-untyped-def]
        self.applied.append(replica.name)

    async def observe(self, replica) -> ReplicaObservation:  # type: ignore[no-untyped-def]
        member = MemberObservation(id="m", engine="main", phase="Ready", ready=True)
        return ReplicaObservation(True, "EnginesReady", "", (member,), (ServingAddress("main", 0, "http://127.0.0.1:9", True),))

    async def teardown(self, replica) -> None:  # type: ignore[no-untyped-def]
        pass

    async def healthy(self, cluster) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
        return True, "fake"

    async def close(self) -> None:
        pass


def _cache(store: MemoryStore, name: str = "tiny") -> ModelCache:
    obj = store.get("ModelCache", ObjectKey("ml", name))
    assert isinstance(obj, ModelCache)
    return obj


def _reconcile_until_settled(ctl: CacheController, key: ObjectKey, *, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        asyncio.run(ctl.reconcile(key))
        cache = ctl.store.get("ModelCache", key)
        assert isinstance(cache, ModelCache)
        if cache.status.clusters and all(c.state != "Hydrating" for c in cache.status.clusters):
            return
        time.sleep(0.05)
    raise AssertionError("cache did not settle")


def _fleet(tmp_path: Path, server: FileServer) -> tuple[MemoryStore, ControlContext]:
    store = MemoryStore()
    add_class(store)
    add_gateway(store)  # the platform opens loopback, where the test's file server listens
    add_cluster(store, "edge-a", {"cache": "yes"})
    add_cluster(store, "edge-b", {"cache": "yes"})
    add_cluster(store, "far", {"cache": "no"})
    server.state.files["/tiny.gguf"] = WEIGHTS
    add_cache(
        store, "tiny",
        {"source": "HTTP", "http": {"url": server.url + "/tiny.gguf", "sha256": hashlib.sha256(WEIGHTS).hexdigest()},
         "clusterSelector": {"matchLabels": {"cache": "yes"}}, "stageAhead": True},
    )
    return store, ControlContext(store=store, data_dir=DataDir(tmp_path))


def test_cache_lands_on_every_selected_cluster_fetched_once(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    ctl = CacheController(ctx)
    key = ObjectKey("ml", "tiny")
    first = asyncio.run(ctl.reconcile(key))
    assert first.requeue_after is not None
    states = {c.cluster: c.state for c in _cache(store).status.clusters}
    assert set(states) == {"edge-a", "edge-b"} and set(states.values()) <= {"Hydrating", "Ready"}
    _reconcile_until_settled(ctl, key)
    cache = _cache(store)
    assert FINALIZER in cache.metadata.finalizers
    assert [(c.cluster, c.state, c.bytes) for c in cache.status.clusters] == [("edge-a", "Ready", len(WEIGHTS)), ("edge-b", "Ready", len(WEIGHTS))]
    ready = next(c for c in cache.status.conditions if c.type == "Ready")
    assert ready.status == "True"
    for cluster in ("edge-a", "edge-b"):
        assert (tmp_path / "cache" / cluster / "ml" / "tiny" / "tiny.gguf").read_bytes() == WEIGHTS
    assert not (tmp_path / "cache" / "far").exists()
    gets = file_server.state.gets
    assert gets == 1, "one download for both: Local clusters on one machine share one copy"
    revision = store.revision()
    asyncio.run(ctl.reconcile(key))
    assert store.revision() == revision and file_server.state.gets == gets, "a Ready cache is not fetched or rewritten again"

    # deleting removes the staged files, then the finalizer
    store.delete("ModelCache", key)
    asyncio.run(ctl.reconcile(key))
    assert store.list("ModelCache").items == []
    assert not (tmp_path / "cache" / "edge-a" / "ml" / "tiny").exists()
    assert list((tmp_path / "cache" / ".shared" / "ml").iterdir()) == [], "the shared copy goes with its last reference"
    ctl.stop()


def test_failed_download_reports_reason_then_retries(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    del file_server.state.files["/tiny.gguf"]
    now = [1000.0]
    ctx.clock = lambda: now[0]
    ctl = CacheController(ctx, retry_after=30)
    key = ObjectKey("ml", "tiny")
    _reconcile_until_settled(ctl, key)
    cache = _cache(store)
    assert {c.state for c in cache.status.clusters} == {"Failed"}
    assert "404" in (cache.status.clusters[0].message or "")
    file_server.state.files["/tiny.gguf"] = WEIGHTS
    now[0] += 31
    _reconcile_until_settled(ctl, key)
    assert {c.state for c in _cache(store).status.clusters} == {"Ready"}
    ctl.stop()


def test_placement_and_start_wait_for_the_cache(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    fake = FakeDriver()
    drivers = DriverSet(logs_dir=tmp_path / "logs")
    drivers._drivers["Local"] = fake
    ctx.drivers = drivers
    add_deployment(store, "chat", replicas=3, cache="tiny")
    deployments = DeploymentController(ctx)
    asyncio.run(deployments.reconcile(ObjectKey("ml", "chat")))
    replicas = [r for r in store.list("ModelReplica", namespace="ml").items if isinstance(r, ModelReplica)]
    assert len(replicas) == 3
    assert {r.spec.cluster_name for r in replicas} == {"edge-a", "edge-b"}, "never on a cluster the cache does not select"

    replica_ctl = ReplicaController(ctx, drivers)
    asyncio.run(replica_ctl.reconcile(replicas[0].key))
    waiting = store.get("ModelReplica", replicas[0].key)
    ready = next(c for c in waiting.status.conditions if c.type == "Ready")
    assert ready.reason == "WaitingForCache"
    assert f"waiting for cache tiny on cluster {replicas[0].spec.cluster_name}" in ready.message
    assert fake.applied == [], "no engine starts before the cache is Ready"
    asyncio.run(deployments.reconcile(ObjectKey("ml", "chat")))
    summary = _replicas_ready(store)
    assert (summary.status, summary.reason) == ("False", "WaitingForCache"), "the deployment says what it waits for"
    assert summary.message.startswith("0 of 3 ready; waiting for cache tiny on cluster ")

    caches = CacheController(ctx)
    _reconcile_until_settled(caches, ObjectKey("ml", "tiny"))
    assert sorted(replica_ctl.watches["ModelCache"](_cache(store))) == sorted(r.key for r in replicas)
    for replica in replicas:
        asyncio.run(replica_ctl.reconcile(replica.key))
    assert sorted(fake.applied) == sorted(r.name for r in replicas)
    asyncio.run(deployments.reconcile(ObjectKey("ml", "chat")))
    assert (_replicas_ready(store).status, _replicas_ready(store).reason) == ("True", "Ready")
    caches.stop()


def _replicas_ready(store: MemoryStore) -> Condition:
    deployment = store.get("ModelDeployment", ObjectKey("ml", "chat"))
    condition = find_condition(deployment.status.conditions, "ReplicasReady")
    assert condition is not None
    return condition


def test_missing_cache_places_nothing_and_says_so(tmp_path: Path) -> None:
    store = MemoryStore()
    add_class(store)
    add_cluster(store, "edge-a", {})
    add_deployment(store, "chat", replicas=1, cache="nope")
    asyncio.run(DeploymentController(ControlContext(store=store)).reconcile(ObjectKey("ml", "chat")))
    assert store.list("ModelReplica").items == []
    d = store.get("ModelDeployment", ObjectKey("ml", "chat"))
    assert isinstance(d, ModelDeployment)
    scheduled = next(c for c in d.status.conditions if c.type == "ReplicasScheduled")
    assert scheduled.status == "False" and "ModelCache 'nope'" in scheduled.message and "create it" in scheduled.message
