"""Local clusters on one machine share one copy of the same weights: a cache staged on two Local
clusters is fetched once into the shared store, and each cluster's directory references it
(hard links, no second copy on disk). The copy goes when the last cluster lets it go, and it
is never shared with another namespace.

Why: three Local clusters on a laptop once meant three downloads and three copies of a 50 GiB
model. The source here is a Local directory (nothing is downloaded from a hub).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import Condition, ObjectKey
from laneway.cache.hydrate import Progress
from laneway.cache.layout import cache_path
from laneway.cache.shared import SHARED_DIR
from laneway.cache.sources import Source
from laneway.control.base import ControlContext
from laneway.control.cache import CacheController
from laneway.drivers.local.caches import LocalCaches, default_hydrator
from laneway.paths import DataDir
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_cache, add_class, add_gateway

WEIGHTS = os.urandom(64 * 1024)


class CountingHydrator:
    """The real hydration, counted: how many fetches the machine made."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def __call__(self, source: Source, dest: Path, progress: Progress) -> object:
        self.fetched.append(source.fingerprint())
        return default_hydrator(source, dest, progress)


def _cluster(store: MemoryStore, name: str, root: Path) -> None:
    created = store.create(InferenceCluster.model_validate({
        "metadata": {"name": name, "labels": {"cache": "yes"}},
        "spec": {"cluster": {"source": "Local", "local": {"cacheRoots": [str(root)]}},
                 "nodePools": [{"name": "p", "className": "cpu", "nodeCount": 1}]},
    }))
    status = created.status.model_copy(update={"conditions": [Condition(type="Ready", status="True", reason="Ready")]})
    store.update_status(created.model_copy(update={"status": status}))


def _fleet(tmp_path: Path) -> tuple[MemoryStore, CacheController, CountingHydrator, Path]:
    weights = tmp_path / "weights"
    (weights / "sub").mkdir(parents=True)
    (weights / "model.gguf").write_bytes(WEIGHTS)
    (weights / "sub" / "config.json").write_text("{}")
    store = MemoryStore()
    add_class(store)
    add_gateway(store)
    _cluster(store, "edge-a", weights)
    _cluster(store, "edge-b", weights)
    spec = {"source": "Local", "local": {"path": str(weights)}, "stageAhead": True, "clusterSelector": {"matchLabels": {"cache": "yes"}}}
    add_cache(store, "tiny", spec)
    add_cache(store, "tiny", spec, namespace="other-team")
    hydrator = CountingHydrator()
    cache_dir = DataDir(tmp_path / "data").cache_dir
    stager = LocalCaches(cache_dir, hydrator=hydrator)
    ctl = CacheController(ControlContext(store=store, data_dir=DataDir(tmp_path / "data")), stagers={"Local": stager})
    return store, ctl, hydrator, cache_dir


def _settle(ctl: CacheController, store: MemoryStore, key: ObjectKey, *, limit: float = 30.0) -> ModelCache:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        asyncio.run(ctl.reconcile(key))
        cache = store.find(ModelCache, key)
        if cache is None or (cache.status.clusters and all(c.state == "Ready" for c in cache.status.clusters)):
            return cache  # type: ignore[return-value]
        time.sleep(0.05)
    raise AssertionError(f"cache did not settle: {store.get(ModelCache, key).status}")


def _reconcile_until_gone(ctl: CacheController, store: MemoryStore, key: ObjectKey, *, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while store.find(ModelCache, key) is not None:
        assert time.monotonic() < deadline, "the cache was not removed"
        asyncio.run(ctl.reconcile(key))


def test_two_local_clusters_fetch_once_and_share_one_copy(tmp_path: Path) -> None:
    store, ctl, hydrator, cache_dir = _fleet(tmp_path)
    key = ObjectKey("ml", "tiny")
    cache = _settle(ctl, store, key)
    ctl.stop()
    assert {c.cluster: c.state for c in cache.status.clusters} == {"edge-a": "Ready", "edge-b": "Ready"}
    assert len(hydrator.fetched) == 1, "fetched once for both clusters"

    a = cache_path(cache_dir, cluster="edge-a", namespace="ml", name="tiny") / "model.gguf"
    b = cache_path(cache_dir, cluster="edge-b", namespace="ml", name="tiny") / "model.gguf"
    assert a.read_bytes() == b.read_bytes() == WEIGHTS
    assert (cache_path(cache_dir, cluster="edge-b", namespace="ml", name="tiny") / "sub" / "config.json").read_text() == "{}"
    assert a.stat().st_ino == b.stat().st_ino, "one copy on disk: both clusters reference the same file"
    shared = [p for p in (cache_dir / SHARED_DIR / "ml").rglob("model.gguf")]
    assert len(shared) == 1 and shared[0].stat().st_ino == a.stat().st_ino and a.stat().st_nlink == 3


def test_another_namespace_never_shares_the_copy(tmp_path: Path) -> None:
    """The source's fingerprint does not include the credential that fetched it: a team that
    merely names the same source must fetch it itself, under its own namespace's rules."""
    store, ctl, hydrator, cache_dir = _fleet(tmp_path)
    _settle(ctl, store, ObjectKey("ml", "tiny"))
    _settle(ctl, store, ObjectKey("other-team", "tiny"))
    ctl.stop()
    assert len(hydrator.fetched) == 2
    mine = cache_path(cache_dir, cluster="edge-a", namespace="ml", name="tiny") / "model.gguf"
    theirs = cache_path(cache_dir, cluster="edge-a", namespace="other-team", name="tiny") / "model.gguf"
    assert mine.stat().st_ino != theirs.stat().st_ino


def test_the_shared_copy_goes_with_its_last_reference(tmp_path: Path) -> None:
    store, ctl, hydrator, cache_dir = _fleet(tmp_path)
    key = ObjectKey("ml", "tiny")
    _settle(ctl, store, key)
    # edge-b stops matching the cache's selector: its reference goes, edge-a's (and the shared copy) stay.
    b_cluster = store.get(InferenceCluster, ObjectKey("", "edge-b"))
    store.update(b_cluster.model_copy(update={"metadata": b_cluster.metadata.model_copy(update={"labels": {}})}))
    assert [c.cluster for c in _settle(ctl, store, key).status.clusters] == ["edge-a"]
    assert not cache_path(cache_dir, cluster="edge-b", namespace="ml", name="tiny").exists()
    a = cache_path(cache_dir, cluster="edge-a", namespace="ml", name="tiny") / "model.gguf"
    assert a.read_bytes() == WEIGHTS and a.stat().st_nlink == 2
    assert len(hydrator.fetched) == 1

    store.delete(ModelCache, key)
    _reconcile_until_gone(ctl, store, key)
    ctl.stop()
    assert not cache_path(cache_dir, cluster="edge-a", namespace="ml", name="tiny").exists()
    assert list((cache_dir / SHARED_DIR / "ml").iterdir()) == [], "no reference left: the shared copy is removed"
