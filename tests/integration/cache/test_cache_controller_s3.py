"""The ModelCache controller with an S3 source on moto's server: credentials from a Secret in
the cache's namespace, one copy per selected cluster, and a missing Secret named in the status."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from cache_servers import MotoS3

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.secret import Secret
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cache import CacheController
from laneway.paths import DataDir
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_cache, add_class, add_cluster, add_gateway

WEIGHTS = os.urandom(1024 * 1024 + 5)
KEY = ObjectKey("ml", "qwen")


def _settle(ctl: CacheController, *, limit: float = 20.0) -> ModelCache:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        asyncio.run(ctl.reconcile(KEY))
        cache = ctl.store.get("ModelCache", KEY)
        assert isinstance(cache, ModelCache)
        if cache.status.clusters and all(c.state != "Hydrating" for c in cache.status.clusters):
            return cache
        time.sleep(0.05)
    raise AssertionError("cache did not settle")


def _fleet(tmp_path: Path, moto_s3: MotoS3, bucket: str) -> tuple[MemoryStore, CacheController]:
    client = moto_s3.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="qwen/config.json", Body=b"{}")
    client.put_object(Bucket=bucket, Key="qwen/model.safetensors", Body=WEIGHTS)
    store = MemoryStore()
    add_class(store)
    add_gateway(store)  # the platform opens loopback, where moto listens
    add_cluster(store, "eu-1", {"region": "eu"})
    add_cluster(store, "eu-2", {"region": "eu"})
    add_cluster(store, "us-1", {"region": "us"})
    add_cache(store, "qwen", {
        "source": "S3",
        "s3": {"uri": f"s3://{bucket}/qwen/", "endpoint": moto_s3.endpoint, "region": "us-east-1",
               "credentialsSecret": {"name": "bucket", "key": "credentials"}},
        "clusterSelector": {"matchLabels": {"region": "eu"}},
        "stageAhead": True,
    })
    return store, CacheController(ControlContext(store=store, data_dir=DataDir(tmp_path)))


def test_s3_cache_lands_once_per_selected_cluster_with_secret_credentials(moto_s3: MotoS3, tmp_path: Path) -> None:
    store, ctl = _fleet(tmp_path, moto_s3, "fleet-weights")
    store.create(Secret.model_validate({"metadata": {"name": "bucket", "namespace": "ml"},
                                        "stringData": {"credentials": "aws_access_key_id = testing\naws_secret_access_key = testing\n"}}))
    cache = _settle(ctl)
    assert [(c.cluster, c.state, c.bytes) for c in cache.status.clusters] == [
        ("eu-1", "Ready", len(WEIGHTS) + 2), ("eu-2", "Ready", len(WEIGHTS) + 2)]
    for cluster in ("eu-1", "eu-2"):
        assert (tmp_path / "cache" / cluster / "ml" / "qwen" / "model.safetensors").read_bytes() == WEIGHTS
    assert not (tmp_path / "cache" / "us-1").exists()
    assert "testing" not in cache.model_dump_json(), "no credential in the status"
    ctl.stop()


def test_missing_credentials_secret_is_named(moto_s3: MotoS3, tmp_path: Path) -> None:
    _, ctl = _fleet(tmp_path, moto_s3, "no-secret")
    cache = _settle(ctl)
    assert {c.state for c in cache.status.clusters} == {"Failed"}
    assert "s3.credentialsSecret: Secret 'bucket' with key 'credentials' was not found" in (cache.status.clusters[0].message or "")
    ctl.stop()
