"""A ModelCache on a Kubernetes cluster: a ReadWriteMany PersistentVolumeClaim and the Job
that hydrates it. Pure functions returning manifests as dicts; applying them belongs to the
Kubernetes driver.

The claim is the one the driver mounts read-only at `/mnt/models` into every engine pod of a
replica that references the cache (`modelcache-<cache>` in `laneway-<namespace>`), so one
copy serves every replica on the cluster. The Job runs `python -m laneway.cache` from the
laneway image with the cache's spec in `LANEWAY_CACHE_SPEC`; it stages in place (the volume
root cannot be renamed) and writes the manifest last, so engines never see a cache the Job
has not finished. The Job is retried by Kubernetes (`backoffLimit`) and resumes partial files.
"""

from __future__ import annotations

import json
from typing import Any

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import LABEL_PREFIX
from laneway.drivers.kubernetes.naming import bounded_name, target_namespace
from laneway.drivers.kubernetes.pods import cache_claim_name

DEFAULT_IMAGE = "ghcr.io/laneway/laneway:0.1.0"
DEFAULT_SIZE_GIB = 100
MOUNT_PATH = "/cache"
SECRET_ENV = "LANEWAY_CACHE_SECRET"
BACKOFF_LIMIT = 6


def _labels(cache: ModelCache) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "laneway",
        LABEL_PREFIX + "modelcache": cache.name,
        LABEL_PREFIX + "namespace": cache.namespace,
    }


def size_gib(cache: ModelCache) -> int:
    """The claim's size: the source's `sizeGiB`, else a default large enough for a 70B model in bf16."""
    spec = cache.spec
    block = spec.hugging_face or spec.s3 or spec.http
    return (block.size_gib if block is not None and block.size_gib else None) or DEFAULT_SIZE_GIB


def job_name(cache: ModelCache) -> str:
    return bounded_name("hydrate", cache.name)


def credentials_secret_name(cache: ModelCache) -> str:
    """The workload-cluster Secret the driver copies the cache's credential into."""
    return bounded_name("modelcache", cache.name, "credentials")


def _secret_ref(cache: ModelCache) -> bool:
    spec = cache.spec
    return bool(
        (spec.hugging_face and spec.hugging_face.auth_secret)
        or (spec.s3 and spec.s3.credentials_secret)
        or (spec.http and spec.http.auth_secret)
    )


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
        "metadata": {"name": cache_claim_name(cache.name), "namespace": target_namespace(cache.namespace), "labels": _labels(cache)},
        "spec": spec,
    }


def render_hydration_job(cache: ModelCache, *, image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "LANEWAY_CACHE_SPEC", "value": json.dumps(cache.spec.wire(), sort_keys=True)},
        {"name": "LANEWAY_CACHE_DEST", "value": MOUNT_PATH},
    ]
    if _secret_ref(cache):
        env.append({"name": SECRET_ENV, "valueFrom": {"secretKeyRef": {"name": credentials_secret_name(cache), "key": "value"}}})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(cache), "namespace": target_namespace(cache.namespace), "labels": _labels(cache)},
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "template": {
                "metadata": {"labels": _labels(cache)},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [
                        {
                            "name": "hydrate",
                            "image": image,
                            "command": ["python", "-m", "laneway.cache"],
                            "env": env,
                            "volumeMounts": [{"name": "cache", "mountPath": MOUNT_PATH}],
                        }
                    ],
                    "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": cache_claim_name(cache.name)}}],
                },
            },
        },
    }


def render_cache_objects(cache: ModelCache, cluster: InferenceCluster, *, image: str = DEFAULT_IMAGE, storage_class: str | None = None) -> list[dict[str, Any]]:
    """The claim and the Job for one cluster (the same on every cluster today; `cluster` is
    the seam for per-cluster storage classes)."""
    del cluster
    return [render_pvc(cache, storage_class=storage_class), render_hydration_job(cache, image=image)]
