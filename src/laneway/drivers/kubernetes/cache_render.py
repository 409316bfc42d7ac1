"""A ModelCache on a Kubernetes cluster: a ReadWriteMany PersistentVolumeClaim and the Job
that hydrates it, and what those objects say about the cache's state there. Pure functions
over plain dicts; the Kubernetes driver applies, reads and deletes the objects.

The claim is the one the driver mounts read-only at `/mnt/models` into every engine pod of a
replica that references the cache (`modelcache-<cache>` in `laneway-<namespace>`), so one
copy serves every replica on the cluster. The Job runs `python -m laneway.cache` from the
laneway image with the cache's source in `LANEWAY_CACHE_SPEC`; it stages in place (the volume
root cannot be renamed) and writes the manifest last, so engines never see a cache the Job
has not finished. The Job is retried by Kubernetes (`backoffLimit`) and resumes partial files.

The Job's name ends with a digest of the source (`hydrate-<cache>-<digest>`): a Job's pod
template is immutable, so a changed source is a new Job (the driver deletes the old one),
never a refused update.

Per-cluster state, read from the Job (`cache_state`): no Job yet is Pending; a Job whose pod
cannot be scheduled (often: no storage class provisions ReadWriteMany volumes) is Pending
with the scheduler's words; a running pod is Hydrating; `Complete` is Ready, with the size
the Job reported in its termination message; `Failed`, or a pod that cannot start (image
pull), is Failed with the reason. Progress in bytes is not reported while a Job runs (only
the Local clusters' in-process hydration sees it).

Cluster settings, under the InferenceCluster's `spec.cluster.existing.cache`:
`storageClassName` (required) for the claim, a class that provisions ReadWriteMany volumes:
the default classes of GKE, EKS and AKS are ReadWriteOnce, and a claim on them would stay
Pending forever, so a cluster that names none gets no objects and the cache fails at once
with a message saying what to set (`CacheSettingsMissing`); `image` (optional) for the Job,
else `DEFAULT_IMAGE`, the tag the repository's Dockerfile builds for this version.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from laneway import __version__
from laneway.api.kinds.cache import ModelCache, ModelCacheSpec
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import LABEL_PREFIX
from laneway.cache.sources import credential_ref
from laneway.cache.state import CacheState
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import (
    MANAGED_BY,
    NAMESPACE_LABEL,
    bounded_name,
    settings_block,
    settings_path,
    target_namespace,
)
from laneway.drivers.kubernetes.pods import cache_claim_name
from laneway.egress.policy import EgressPolicy

DEFAULT_IMAGE = f"ghcr.io/laneway/laneway:{__version__}"  # what `docker build` of the repository's Dockerfile is tagged
JOB_UID = 10001  # the Dockerfile's unprivileged user
DEFAULT_SIZE_GIB = 100
MOUNT_PATH = "/cache"
SECRET_ENV = "LANEWAY_CACHE_SECRET"
SECRET_KEY = "value"
REPORT_ENV = "LANEWAY_CACHE_REPORT"
TERMINATION_LOG = "/dev/termination-log"
BACKOFF_LIMIT = 6
CACHE_LABEL = LABEL_PREFIX + "modelcache"
JOB_LABEL = LABEL_PREFIX + "hydration-job"

_CONTAINER_FAILURES = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError")


def labels(cache: ModelCache) -> dict[str, str]:
    """What ties the claim, Job and credential Secret to their ModelCache (and finds them)."""
    return {MANAGED_BY: "laneway", CACHE_LABEL: cache.name, NAMESPACE_LABEL: cache.namespace}


def cache_selector(cache: ModelCache) -> str:
    """The label selector (string form) that finds every object of this cache on a cluster."""
    return f"{MANAGED_BY}=laneway,{CACHE_LABEL}={cache.name},{NAMESPACE_LABEL}={cache.namespace}"


@dataclass(frozen=True)
class ClusterCacheSettings:
    """`spec.cluster.existing.cache` of an InferenceCluster."""

    storage_class: str | None = None
    image: str = DEFAULT_IMAGE


def cluster_settings(cluster: InferenceCluster) -> ClusterCacheSettings:
    block = settings_block(cluster)[1].get("cache")
    if not isinstance(block, dict):
        return ClusterCacheSettings()
    storage = block.get("storageClassName")
    image = block.get("image")
    return ClusterCacheSettings(
        storage_class=str(storage) if storage else None, image=str(image) if image else DEFAULT_IMAGE
    )


def size_gib(cache: ModelCache) -> int:
    """The claim's size: the source's `sizeGiB`, else a default large enough for a 70B model in bf16."""
    spec = cache.spec
    block = spec.hugging_face or spec.s3 or spec.http
    return (block.size_gib if block is not None and block.size_gib else None) or DEFAULT_SIZE_GIB


def source_json(spec: ModelCacheSpec) -> str:
    """The spec the Job stages from: the source only (a changed clusterSelector is not a new Job)."""
    wire = {k: v for k, v in spec.wire().items() if k != "clusterSelector"}
    return json.dumps(wire, sort_keys=True)


def job_name(cache: ModelCache) -> str:
    digest = hashlib.sha256(source_json(cache.spec).encode()).hexdigest()[:8]
    return f"{bounded_name('hydrate', cache.name, limit=63 - 9)}-{digest}"


def job_pod_selector(cache: ModelCache) -> str:
    """The label selector of the current Job's pods (not those of a Job for an older source)."""
    return f"{JOB_LABEL}={job_name(cache)}"


def credentials_secret_name(cache: ModelCache) -> str:
    """The workload-cluster Secret the driver copies the cache's credential into."""
    return bounded_name("modelcache", cache.name, "credentials")


def render_pvc(cache: ModelCache, *, storage_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": f"{size_gib(cache)}Gi"}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": cache_claim_name(cache.name), "namespace": target_namespace(cache.namespace), "labels": labels(cache)},
        "spec": spec,
    }


def render_hydration_job(cache: ModelCache, *, image: str = DEFAULT_IMAGE, egress: EgressPolicy | None = None) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "LANEWAY_CACHE_SPEC", "value": source_json(cache.spec)},
        {"name": "LANEWAY_CACHE_DEST", "value": MOUNT_PATH},
        {"name": REPORT_ENV, "value": TERMINATION_LOG},
    ]
    published = egress.to_specs() if egress is not None else []
    if published:  # the fleet's egress policy; without it the Job applies the default one
        env.append({"name": "LANEWAY_EGRESS", "value": json.dumps(published, sort_keys=True)})
    if credential_ref(cache.spec) is not None:
        env.append({"name": SECRET_ENV, "valueFrom": {"secretKeyRef": {"name": credentials_secret_name(cache), "key": SECRET_KEY}}})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(cache), "namespace": target_namespace(cache.namespace), "labels": labels(cache)},
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "template": {
                "metadata": {"labels": {**labels(cache), JOB_LABEL: job_name(cache)}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "securityContext": {"runAsUser": JOB_UID, "runAsGroup": JOB_UID, "fsGroup": JOB_UID, "runAsNonRoot": True},
                    "containers": [
                        {
                            "name": "hydrate",
                            "image": image,
                            "command": ["python", "-m", "laneway.cache"],
                            "env": env,
                            "volumeMounts": [{"name": "cache", "mountPath": MOUNT_PATH}],
                            "terminationMessagePath": TERMINATION_LOG,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": cache_claim_name(cache.name)}}],
                },
            },
        },
    }


def render_credentials_secret(cache: ModelCache, value: str) -> dict[str, Any]:
    """The credential the Job reads, as a workload-cluster Secret. Never printed or logged."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": credentials_secret_name(cache), "namespace": target_namespace(cache.namespace), "labels": labels(cache)},
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(value.encode()).decode()},
    }


class CacheSettingsMissing(RenderError):
    """The cluster does not say what a cache needs there (the message says what to set)."""


def missing_settings(cluster: InferenceCluster) -> str | None:
    """What the cluster must declare before a cache can be staged on it, or None."""
    if cluster_settings(cluster).storage_class is None:
        return (
            f"InferenceCluster {cluster.name} names no storage class for ModelCaches: set "
            f"{settings_path(cluster)}.cache.storageClassName to a class that provisions ReadWriteMany volumes "
            "(Filestore on GKE, EFS on EKS, Azure Files on AKS, NFS or CephFS elsewhere; the default classes of "
            "GKE, EKS and AKS are ReadWriteOnce, where the claim would stay Pending forever)"
        )
    return None


def render_cache_objects(
    cache: ModelCache, cluster: InferenceCluster, *, image: str | None = None, storage_class: str | None = None,
    egress: EgressPolicy | None = None,
) -> list[dict[str, Any]]:
    """The claim and the Job for one cluster, with the cluster's `existing.cache` settings
    unless `image` / `storage_class` are given. Raises CacheSettingsMissing when the cluster
    names no ReadWriteMany storage class and none is given."""
    settings = cluster_settings(cluster)
    if storage_class is None:
        problem = missing_settings(cluster)
        if problem is not None:
            raise CacheSettingsMissing(f"ModelCache {cache.namespace}/{cache.name}: {problem}")
    return [
        render_pvc(cache, storage_class=storage_class or settings.storage_class),
        render_hydration_job(cache, image=image or settings.image, egress=egress),
    ]


# --- what the objects say ------------------------------------------------------------------


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def _terminated(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Terminated container states of the Job's pods, newest pod last."""
    out = []
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or "")):
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            for state in ((c.get("state") or {}).get("terminated"), (c.get("lastState") or {}).get("terminated")):
                if state:
                    out.append(state)
    return out


def _reported_bytes(pods: Sequence[Mapping[str, Any]]) -> int | None:
    """The size the Job reported in its termination message (`{"bytes": N, ...}`) on success."""
    for state in reversed(_terminated(pods)):
        if state.get("exitCode") != 0:
            continue
        try:
            report = json.loads(str(state.get("message") or ""))
        except ValueError:
            continue
        if isinstance(report, dict) and isinstance(report.get("bytes"), int):
            return int(report["bytes"])
    return None


def _last_error(pods: Sequence[Mapping[str, Any]]) -> str | None:
    for state in reversed(_terminated(pods)):
        if state.get("exitCode") not in (0, None):
            text = str(state.get("message") or state.get("reason") or "").strip()
            if text:
                return text.splitlines()[-1][:500]
    return None


def cache_state(job_name: str, job: Mapping[str, Any] | None, claim: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> CacheState:
    """The cache's state on one cluster from its Job, claim and the Job's pods (pure)."""
    if job is None:
        return CacheState("Pending", f"Job {job_name} is not on the cluster yet")
    conditions = _conditions(job)
    if (conditions.get("Complete") or {}).get("status") == "True":
        return CacheState("Ready", f"staged by Job {job_name}", _reported_bytes(pods))
    failed = conditions.get("Failed") or {}
    if failed.get("status") == "True":
        why = f"Job {job_name} failed ({failed.get('reason') or 'Failed'}: {failed.get('message') or 'no message'})"
        last = _last_error(pods)
        return CacheState("Failed", f"{why}; last attempt: {last}" if last else why)
    for pod in pods:
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (c.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _CONTAINER_FAILURES:
                return CacheState(
                    "Failed",
                    f"Job {job_name}: {waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
                    + f"; build the laneway image from the repository's Dockerfile (docker build -t REGISTRY/laneway:{__version__} .), "
                    "push it where the cluster pulls, and set spec.cluster.existing.cache.image to it",
                )
    attempts = int((job.get("status") or {}).get("failed") or 0)
    retried = f" (after {attempts} failed attempt{'s' if attempts != 1 else ''}: {_last_error(pods) or 'see the pod logs'})" if attempts else ""
    if any((p.get("status") or {}).get("phase") == "Running" for p in pods):
        return CacheState("Hydrating", f"Job {job_name} is staging the weights{retried}")
    claim_phase = ((claim or {}).get("status") or {}).get("phase")
    for pod in pods:
        scheduled = _conditions(pod).get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            hint = (
                "; the claim needs a storage class that provisions ReadWriteMany volumes "
                "(set spec.cluster.existing.cache.storageClassName)"
                if claim_phase != "Bound" else ""
            )
            return CacheState("Pending", f"Job {job_name}: pod cannot be scheduled: {scheduled.get('message') or scheduled.get('reason')}{hint}")
    return CacheState("Pending", f"Job {job_name} created; waiting for its pod to start{retried}")
