"""A ModelCache on Kubernetes, the pure half: its objects (valid in strict mode for every
supported Kubernetes version) and the per-cluster state read from its Job."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from kube_samples import cluster

import laneway
from laneway.api.kinds import InferenceCluster, ModelCache
from laneway.drivers.kubernetes.cache_render import (
    DEFAULT_IMAGE,
    CacheSettingsMissing,
    cache_state,
    cluster_settings,
    job_name,
    render_cache_objects,
    render_credentials_secret,
    render_hydration_job,
    render_pvc,
)
from laneway.drivers.kubernetes.validation import supported_versions, validate_objects


def _cache(**spec: Any) -> ModelCache:
    body = {"source": "S3", "s3": {"uri": "s3://weights/qwen/", "credentialsSecret": {"name": "aws", "key": "creds"}, "sizeGiB": 20}}
    body.update(spec)
    return ModelCache.model_validate({"metadata": {"name": "qwen", "namespace": "ml-team"}, "spec": body})


def test_claim_job_and_credential_secret_are_valid_for_every_supported_version() -> None:
    c = cluster("gpu-eu").model_copy(deep=True)
    assert c.spec.cluster.existing is not None
    c.spec.cluster.existing.__pydantic_extra__["cache"] = {"storageClassName": "filestore-rwx", "image": "registry.local/laneway:1"}
    pvc, job = render_cache_objects(_cache(), c)
    secret = render_credentials_secret(_cache(), "aws_access_key_id=A")
    assert "1.34" in supported_versions()
    validate_objects([pvc, job, secret])  # strict: an unknown field anywhere is an error
    assert pvc["spec"]["storageClassName"] == "filestore-rwx" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.local/laneway:1"
    env = {e["name"]: e for e in container["env"]}
    assert env["LANEWAY_CACHE_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "value"}
    assert "clusterSelector" not in json.loads(env["LANEWAY_CACHE_SPEC"]["value"])
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert "aws_access_key_id" not in json.dumps([pvc, job])


def _without_cache_block(name: str) -> InferenceCluster:
    c = cluster(name).model_copy(deep=True)
    assert c.spec.cluster.existing is not None
    c.spec.cluster.existing.__pydantic_extra__.pop("cache", None)
    return c


def test_default_image_is_what_the_dockerfile_builds_and_the_storage_class_is_required() -> None:
    settings = cluster_settings(_without_cache_block("gpu-us"))
    assert settings.storage_class is None and settings.image == f"ghcr.io/laneway/laneway:{laneway.__version__}" == DEFAULT_IMAGE
    with pytest.raises(CacheSettingsMissing, match="storageClassName") as refused:
        render_cache_objects(_cache(), _without_cache_block("gpu-us"))
    assert "ReadWriteMany" in str(refused.value) and "gpu-us" in str(refused.value)


def test_a_changed_source_is_a_new_job_a_changed_selector_is_not() -> None:
    base = job_name(_cache())
    assert job_name(_cache(clusterSelector={"matchLabels": {"laneway.dev/jurisdiction": "eu"}})) == base
    assert job_name(_cache(s3={"uri": "s3://weights/qwen-v2/"})) != base
    assert base.startswith("hydrate-qwen-") and len(base) <= 63
    long = ModelCache.model_validate({"metadata": {"name": "x" * 63, "namespace": "n"}, "spec": {"source": "HTTP", "http": {"url": "https://h/m"}}})
    assert len(job_name(long)) <= 63


def _http_cache() -> ModelCache:
    return ModelCache.model_validate(
        {"metadata": {"name": "tiny", "namespace": "ml"}, "spec": {"source": "HTTP", "http": {"url": "https://example.com/m.gguf", "sizeGiB": 2}}}
    )


def test_kubernetes_objects_are_a_rwx_claim_and_a_job_that_mounts_it() -> None:
    mc = _http_cache()
    pvc = render_pvc(mc, storage_class="nfs")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert pvc["metadata"]["name"] == "modelcache-tiny" and pvc["metadata"]["namespace"] == "laneway-ml"
    job = render_hydration_job(mc)
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert json.loads(env["LANEWAY_CACHE_SPEC"])["http"]["url"] == "https://example.com/m.gguf"
    assert "LANEWAY_CACHE_SECRET" not in env


def test_job_takes_the_credential_from_a_secret_when_the_source_has_one() -> None:
    mc = ModelCache.model_validate({"metadata": {"name": "w", "namespace": "ml"}, "spec": {"source": "S3", "s3": {"uri": "s3://b/p/", "credentialsSecret": {"name": "aws", "key": "creds"}}}})
    env = render_hydration_job(mc)["spec"]["template"]["spec"]["containers"][0]["env"]
    (secret,) = [e for e in env if e["name"] == "LANEWAY_CACHE_SECRET"]
    assert secret["valueFrom"]["secretKeyRef"]["name"] == "modelcache-w-credentials"


def _pod(phase: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "hydrate-qwen-abc", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": phase, **status}}


JOB = "hydrate-qwen-1234abcd"


def test_state_from_the_job() -> None:
    assert cache_state(JOB, None, None, []).state == "Pending"
    job: dict[str, Any] = {"status": {"active": 1}}
    assert cache_state(JOB, job, None, []).state == "Pending"

    unschedulable = _pod("Pending", conditions=[{"type": "PodScheduled", "status": "False", "message": "pod has unbound immediate PersistentVolumeClaims"}])
    seen = cache_state(JOB, job, {"status": {"phase": "Pending"}}, [unschedulable])
    assert seen.state == "Pending" and "unbound immediate" in (seen.message or "") and "storageClassName" in (seen.message or "")

    assert cache_state(JOB, job, {"status": {"phase": "Bound"}}, [_pod("Running")]).state == "Hydrating"

    done = {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    finished = _pod("Succeeded", containerStatuses=[{"name": "hydrate", "state": {"terminated": {"exitCode": 0, "message": '{"bytes": 1234, "files": 3}'}}}])
    ready = cache_state(JOB, done, None, [finished])
    assert (ready.state, ready.bytes) == ("Ready", 1234)


def test_failures_say_why() -> None:
    broken = _pod("Running", containerStatuses=[{"name": "hydrate", "state": {"running": {}},
                                                  "lastState": {"terminated": {"exitCode": 1, "message": "laneway cache: SourceUnavailable: 403 from s3"}}}])
    retrying = cache_state(JOB, {"status": {"active": 1, "failed": 2}}, None, [broken])
    assert retrying.state == "Hydrating" and "2 failed attempts" in (retrying.message or "") and "403 from s3" in (retrying.message or "")

    failed = {"status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}
    seen = cache_state(JOB, failed, None, [broken])
    assert seen.state == "Failed" and "BackoffLimitExceeded" in (seen.message or "") and "403 from s3" in (seen.message or "")

    pull = _pod("Pending", containerStatuses=[{"name": "hydrate", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}])
    seen = cache_state(JOB, {"status": {"active": 1}}, None, [pull])
    assert seen.state == "Failed" and "ImagePullBackOff" in (seen.message or "") and "cache.image" in (seen.message or "")


def test_the_cache_package_imports_no_driver() -> None:
    """Kubernetes cache objects are the driver's business: `laneway.cache` stays below the drivers."""
    import laneway.cache

    offenders = []
    for path in Path(laneway.cache.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("laneway.drivers")]
    assert offenders == []
