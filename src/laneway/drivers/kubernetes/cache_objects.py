"""A ModelCache's objects on one workload cluster: send, read and delete them (blocking I/O).

The rendering and the reading of state are pure and live in `cache_render`; this
module is the thin I/O around them that `KubernetesDriver.apply_cache`, `observe_cache` and
`delete_cache` run in a worker thread. Everything a cache owns carries its labels
(`cache_selector`), so a Job for an older source, or a credential Secret the source no longer
needs, is found and deleted by the same selector.
"""

from __future__ import annotations

from typing import Any

from laneway.api.kinds.cache import ModelCache
from laneway.cache.state import CacheState
from laneway.drivers.kubernetes import kinds
from laneway.drivers.kubernetes.cache_render import cache_selector, cache_state, job_name, job_pod_selector
from laneway.drivers.kubernetes.connection import KubeConnection
from laneway.drivers.kubernetes.errors import KubeApiError
from laneway.drivers.kubernetes.naming import target_namespace
from laneway.drivers.kubernetes.pods import cache_claim_name
from laneway.drivers.kubernetes.render import object_id


def send(conn: KubeConnection, cache: ModelCache, objects: list[dict[str, Any]]) -> None:
    """Apply `objects` in order, then delete the cache's Jobs and Secrets they no longer include."""
    for obj in objects:
        try:
            conn.apply(obj)
        except KubeApiError as error:
            raise KubeApiError(error.status, error.reason, f"{object_id(obj)}: {error}") from None
    wanted = {(o["kind"], o["metadata"]["name"]) for o in objects}
    namespace = target_namespace(cache.namespace)
    for resource in (kinds.JOB, kinds.SECRET):
        for stale in conn.list(resource, namespace=namespace, selector=cache_selector(cache)):
            name = stale["metadata"]["name"]
            if (resource.kind, name) not in wanted:
                conn.delete(resource, name, namespace=namespace)


def read(conn: KubeConnection, cache: ModelCache) -> CacheState:
    namespace = target_namespace(cache.namespace)
    name = job_name(cache)
    job = conn.find(kinds.JOB, name, namespace=namespace)
    claim = conn.find(kinds.PERSISTENT_VOLUME_CLAIM, cache_claim_name(cache.name), namespace=namespace)
    pods = conn.list(kinds.POD, namespace=namespace, selector=job_pod_selector(cache)) if job is not None else []
    return cache_state(name, job, claim, pods)


def delete_all(conn: KubeConnection, cache: ModelCache) -> None:
    """Delete the Job (its pods with it), the credential Secret and the claim. A claim still
    mounted by engine pods is removed by Kubernetes once they are gone."""
    namespace = target_namespace(cache.namespace)
    for resource in kinds.CACHE_OWNED:
        try:
            found = conn.list(resource, namespace=namespace, selector=cache_selector(cache))
        except KubeApiError as error:
            if error.status == 404:
                continue
            raise
        for obj in found:
            conn.delete(resource, obj["metadata"]["name"], namespace=namespace)
