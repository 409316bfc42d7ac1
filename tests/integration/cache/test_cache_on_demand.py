"""A ModelCache downloads nothing until a replica placed on a cluster needs it (or the cache asks
to be staged ahead), and never starts a download its declared size cannot fit.

Why: applying an example cache once started one 50 GiB download per Local cluster of a laptop,
retried every 30 s, for a model no deployment used.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

from cache_servers import FileServer

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cache import CacheController
from laneway.control.deployment import DeploymentController
from laneway.drivers.local.caches import GIB, LocalCaches
from laneway.paths import DataDir
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import (
    add_cache,
    add_class,
    add_cluster,
    add_deployment,
    add_gateway,
)

WEIGHTS = os.urandom(256 * 1024)
KEY = ObjectKey("ml", "tiny")


def _fleet(tmp_path: Path, server: FileServer, **extra: object) -> tuple[MemoryStore, ControlContext]:
    store = MemoryStore()
    add_class(store)
    add_gateway(store)
    add_cluster(store, "edge-a", {"cache": "yes"})
    add_cluster(store, "edge-b", {"cache": "yes"})
    server.state.files["/tiny.gguf"] = WEIGHTS
    http = {"url": server.url + "/tiny.gguf", "sha256": hashlib.sha256(WEIGHTS).hexdigest(), **extra}
    add_cache(store, "tiny", {"source": "HTTP", "http": http, "clusterSelector": {"matchLabels": {"cache": "yes"}}})
    return store, ControlContext(store=store, data_dir=DataDir(tmp_path))


def _cache(store: MemoryStore) -> ModelCache:
    cache = store.get("ModelCache", KEY)
    assert isinstance(cache, ModelCache)
    return cache


def _ready(cache: ModelCache) -> tuple[str, str, str]:
    c = next(c for c in cache.status.conditions if c.type == "Ready")
    return c.status, c.reason, c.message


def _settle(ctl: CacheController, store: MemoryStore, *, limit: float = 30.0) -> ModelCache:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        asyncio.run(ctl.reconcile(KEY))
        cache = _cache(store)
        if cache.status.clusters and all(c.state != "Hydrating" for c in cache.status.clusters):
            return cache
        time.sleep(0.05)
    raise AssertionError(f"cache did not settle: {_cache(store).status}")


def test_an_unused_cache_downloads_nothing_and_says_why(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    ctl = CacheController(ctx)
    for _ in range(3):
        asyncio.run(ctl.reconcile(KEY))
    ctl.stop()
    cache = _cache(store)
    assert cache.status.clusters == []
    status, reason, message = _ready(cache)
    assert (status, reason) == ("False", "NotNeeded") and "stageAhead" in message and "2 selected" in message
    assert file_server.state.gets == 0, "no download for a cache no replica needs"
    assert not (tmp_path / "cache").exists()


def test_a_placed_replica_stages_the_cache_on_its_cluster_only(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    add_deployment(store, "chat", replicas=1, cache="tiny")
    asyncio.run(DeploymentController(ctx).reconcile(ObjectKey("ml", "chat")))
    replicas = [r for r in store.list("ModelReplica", namespace="ml").items if isinstance(r, ModelReplica)]
    assert len(replicas) == 1
    placed = replicas[0].spec.cluster_name
    ctl = CacheController(ctx)
    assert ctl.watches["ModelReplica"](replicas[0]) == [KEY], "a placed replica wakes its cache"
    cache = _settle(ctl, store)
    ctl.stop()
    assert [(c.cluster, c.state) for c in cache.status.clusters] == [(placed, "Ready")]
    assert file_server.state.gets == 1
    assert _ready(cache)[0] == "True"


def test_stage_ahead_stages_on_every_selected_cluster(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server)
    cache = _cache(store)
    cache.spec.stage_ahead = True
    store.update(cache)
    ctl = CacheController(ctx)
    settled = _settle(ctl, store)
    ctl.stop()
    assert {c.cluster: c.state for c in settled.status.clusters} == {"edge-a": "Ready", "edge-b": "Ready"}


def test_a_cache_larger_than_the_free_disk_is_refused_before_any_download(file_server: FileServer, tmp_path: Path) -> None:
    store, ctx = _fleet(tmp_path, file_server, sizeGiB=50)
    cache = _cache(store)
    cache.spec.stage_ahead = True
    store.update(cache)
    small_disk = LocalCaches(tmp_path / "cache", free=lambda _path: 2 * GIB)
    ctl = CacheController(ctx, stagers={"Local": small_disk})
    settled = _settle(ctl, store)
    ctl.stop()
    assert {c.state for c in settled.status.clusters} == {"Failed"}
    message = settled.status.clusters[0].message or ""
    assert message.startswith("InsufficientDisk:") and "sizeGiB 50" in message and "2.0 GiB is free" in message
    assert _ready(settled)[1] == "InsufficientDisk"
    assert file_server.state.gets == 0, "nothing fetched for a cache that cannot fit"
