"""A ModelCache on two fake clusters: the driver applies its claim, hydration Job and
credential Secret, reads the state from the Job, replaces the Job when the source changes and
deletes everything; the ModelCache controller reports it per cluster, and a replica that
references the cache starts only once it is Ready there, mounting that claim at /mnt/models."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from kube_fleet import Fleet

from laneway.api.kinds import ModelCache, ModelReplica, Secret
from laneway.control.base import ControlContext
from laneway.control.cache import CacheController
from laneway.control.replica import ReplicaController
from laneway.drivers.kubernetes.cache_render import job_name
from laneway.drivers.kubernetes.driver import KubernetesDriver
from laneway.drivers.registry import DriverSet
from laneway.testing.fake_kube import FakeKube

NS = "laneway-ml-team"
CREDENTIAL = "[default]\naws_access_key_id = AKIA-NOT-REAL\naws_secret_access_key = not-a-secret\n"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _cache(fleet: Fleet, uri: str = "s3://weights/qwen/") -> ModelCache:
    fleet.store.create(Secret.model_validate({"metadata": {"name": "aws", "namespace": "ml-team"}, "stringData": {"creds": CREDENTIAL}}))
    cache = fleet.store.create(ModelCache.model_validate({
        "metadata": {"name": "qwen-weights", "namespace": "ml-team"},
        "spec": {"source": "S3", "s3": {"uri": uri, "credentialsSecret": {"name": "aws", "key": "creds"}, "sizeGiB": 16}, "stageAhead": True},
    }))
    assert isinstance(cache, ModelCache)
    return cache


def _job_pod(fake: FakeKube, cache: ModelCache, status: dict[str, Any]) -> None:
    name = job_name(cache)
    fake.put({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{name}-x7k2p", "namespace": NS, "labels": {"laneway.dev/hydration-job": name}},
        "spec": {"containers": [{"name": "hydrate", "image": "laneway"}]},
        "status": status,
    })


def _complete(fake: FakeKube, cache: ModelCache, size: int) -> None:
    fake.set_status("batch/v1", "jobs", NS, job_name(cache), {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
    _job_pod(fake, cache, {"phase": "Succeeded", "containerStatuses": [
        {"name": "hydrate", "state": {"terminated": {"exitCode": 0, "message": f'{{"bytes": {size}, "files": 2}}'}}}]})


def test_driver_applies_observes_replaces_and_deletes_on_two_clusters(fleet: Fleet, driver: KubernetesDriver) -> None:
    cache = _cache(fleet)
    eu, us = fleet.clusters["gpu-eu"], fleet.clusters["gpu-us"]
    for name in ("gpu-eu", "gpu-us"):
        run(driver.apply_cache(cache, fleet.cluster(name), credential=CREDENTIAL))
    job = job_name(cache)
    for fake in (eu, us):
        assert fake.names("v1", "persistentvolumeclaims", NS) == ["modelcache-qwen-weights"]
        assert fake.names("batch/v1", "jobs", NS) == [job]
        secret = fake.get("v1", "secrets", NS, "modelcache-qwen-weights-credentials")
        assert secret is not None and base64.b64decode(secret["data"]["value"]).decode() == CREDENTIAL

    seen = run(driver.observe_cache(cache, fleet.cluster("gpu-eu")))
    assert seen.state == "Pending" and job in (seen.message or "")
    _job_pod(eu, cache, {"phase": "Running"})
    assert run(driver.observe_cache(cache, fleet.cluster("gpu-eu"))).state == "Hydrating"
    _complete(eu, cache, 4096)
    ready = run(driver.observe_cache(cache, fleet.cluster("gpu-eu")))
    assert (ready.state, ready.bytes) == ("Ready", 4096)

    us.set_status("batch/v1", "jobs", NS, job, {"failed": 7, "conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
    failed = run(driver.observe_cache(cache, fleet.cluster("gpu-us")))
    assert failed.state == "Failed" and "BackoffLimitExceeded" in (failed.message or "")
    assert CREDENTIAL not in (failed.message or "")

    # A new source is a new Job (a Job's template is immutable); the old one goes.
    changed = cache.model_copy(deep=True)
    assert changed.spec.s3 is not None
    changed.spec.s3.uri = "s3://weights/qwen-v2/"
    run(driver.apply_cache(changed, fleet.cluster("gpu-eu"), credential=CREDENTIAL))
    assert eu.names("batch/v1", "jobs", NS) == [job_name(changed)] != [job]
    assert run(driver.observe_cache(changed, fleet.cluster("gpu-eu"))).state == "Pending"

    # A source without a credential: the Secret is not kept either.
    public = ModelCache.model_validate({**changed.model_dump(by_alias=True, exclude_none=True),
                                        "spec": {"source": "HTTP", "http": {"url": "https://example.com/m.gguf"}, "stageAhead": True}})
    run(driver.apply_cache(public, fleet.cluster("gpu-eu")))
    assert eu.names("v1", "secrets", NS) == [] and eu.names("batch/v1", "jobs", NS) == [job_name(public)]

    # Deleting removes the claim, Job and Secret from that cluster only.
    run(driver.delete_cache(changed, fleet.cluster("gpu-eu")))
    for plural in ("persistentvolumeclaims", "secrets"):
        assert eu.names("v1", plural, NS) == []
    assert eu.names("batch/v1", "jobs", NS) == []
    assert us.names("v1", "persistentvolumeclaims", NS) == ["modelcache-qwen-weights"]  # the other cluster keeps its copy
    run(driver.delete_cache(changed, fleet.cluster("gpu-eu")))  # idempotent


def test_unreachable_cluster_is_pending_not_failed(fleet: Fleet, driver: KubernetesDriver) -> None:
    cache = _cache(fleet)
    fleet.clusters["gpu-us"].stop()
    run(driver.apply_cache(cache, fleet.cluster("gpu-us"), credential=CREDENTIAL))
    seen = run(driver.observe_cache(cache, fleet.cluster("gpu-us")))
    assert seen.state == "Pending" and "cannot be reached" in (seen.message or "")


def test_controller_stages_per_cluster_and_gates_the_replica_on_it(fleet: Fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        drivers = DriverSet(logs_dir=tmp_path, store=fleet.store)
        ctx = ControlContext(store=fleet.store, drivers=drivers)
        caches, replicas = CacheController(ctx), ReplicaController(ctx, drivers)
        try:
            cache = _cache(fleet)
            await caches.reconcile(cache.key)
            stored = fleet.store.get("ModelCache", cache.key)
            assert isinstance(stored, ModelCache)
            assert [(e.cluster, e.state) for e in stored.status.clusters] == [("gpu-eu", "Pending"), ("gpu-us", "Pending")]

            [replica] = fleet.replicas("qwen-rag")  # placed on gpu-us; references qwen-weights
            assert replica.spec.cluster_name == "gpu-us"
            await replicas.reconcile(replica.key)
            waiting = fleet.store.get("ModelReplica", replica.key)
            assert isinstance(waiting, ModelReplica)
            ready = {c.type: c for c in waiting.status.conditions}["Ready"]
            assert ready.reason == "WaitingForCache" and "gpu-us" in ready.message
            us = fleet.clusters["gpu-us"]
            assert us.names("apps/v1", "deployments", NS) == []  # nothing starts before the weights are there

            _complete(us, cache, 16 * 2**30)
            await caches.reconcile(cache.key)
            stored = fleet.store.get("ModelCache", cache.key)
            assert isinstance(stored, ModelCache)
            states = {e.cluster: (e.state, e.bytes) for e in stored.status.clusters}
            assert states == {"gpu-eu": ("Pending", None), "gpu-us": ("Ready", 16 * 2**30)}

            await replicas.reconcile(replica.key)
            dep = us.get("apps/v1", "deployments", NS, f"{replica.name}-chat")
            assert dep is not None
            pod = dep["spec"]["template"]["spec"]
            [volume] = [v for v in pod["volumes"] if v["name"] == "model-cache"]
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert us.get("v1", "persistentvolumeclaims", NS, claim) is not None  # the claim the Job filled
            assert {"name": "model-cache", "mountPath": "/mnt/models", "readOnly": True} in pod["containers"][0]["volumeMounts"]

            # A cluster the selector stops matching loses its copy; deleting the cache removes the rest.
            narrowed = fleet.store.get("ModelCache", cache.key)
            assert isinstance(narrowed, ModelCache)
            narrowed.spec.cluster_selector.match_labels = {"laneway.dev/jurisdiction": "us"}
            fleet.store.update(narrowed)
            await caches.reconcile(cache.key)
            assert fleet.clusters["gpu-eu"].names("v1", "persistentvolumeclaims", NS) == []
            assert us.names("v1", "persistentvolumeclaims", NS) == [claim]

            fleet.store.delete("ModelCache", cache.key)
            await caches.reconcile(cache.key)
            assert us.names("v1", "persistentvolumeclaims", NS) == [] and us.names("batch/v1", "jobs", NS) == []
            assert fleet.store.list("ModelCache", namespace="ml-team").items == []
        finally:
            await drivers.close()

    asyncio.run(scenario())


def test_local_source_cannot_stage_on_a_kubernetes_cluster(fleet: Fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        drivers = DriverSet(logs_dir=tmp_path, store=fleet.store)
        caches = CacheController(ControlContext(store=fleet.store, drivers=drivers))
        try:
            cache = fleet.store.create(ModelCache.model_validate({
                "metadata": {"name": "here", "namespace": "ml-team"}, "spec": {"source": "Local", "local": {"path": str(tmp_path)}, "stageAhead": True}}))
            await caches.reconcile(cache.key)
            stored = fleet.store.get("ModelCache", cache.key)
            assert isinstance(stored, ModelCache)
            assert {e.state for e in stored.status.clusters} == {"Failed"}
            assert "cannot read" in (stored.status.clusters[0].message or "")
            assert fleet.clusters["gpu-eu"].names("batch/v1", "jobs", NS) == []
        finally:
            await drivers.close()

    asyncio.run(scenario())
