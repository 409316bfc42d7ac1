"""`render(replica, cluster) -> objects`: a ModelReplica as the Kubernetes objects that serve it.

Pure: the same replica and cluster give the same list of plain dicts, in a stable order
(namespace first, then per engine its claim templates and workload, then Services, then the
route and pool), with no I/O. The driver applies the list; `laneway render` prints it.

Objects land in `laneway-<namespace>` on the workload cluster, one namespace per laneway
namespace, and carry the ownership labels of `naming.owner_labels`, so every object can be
traced back to (and deleted with) its replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import (
    MANAGED_BY,
    MANAGER,
    NAMESPACE_LABEL,
    TARGET_CLUSTER_ANNOTATION,
    target_namespace,
)
from laneway.drivers.kubernetes.routing import (
    DEFAULT_PICKER_IMAGE,
    RoutingOptions,
    engine_services,
    http_routes,
    inference_pool,
)
from laneway.drivers.kubernetes.settings import cluster_settings
from laneway.drivers.kubernetes.workloads import engine_objects


@dataclass(frozen=True)
class RenderOptions:
    """What a rendering may vary beyond the replica and cluster.

    `target_cluster_annotation` stamps `laneway.dev/target-cluster` on every object (for
    GitOps output, where one stream holds several clusters' objects)."""

    picker_image: str = DEFAULT_PICKER_IMAGE
    target_cluster_annotation: bool = False


def namespace_object(namespace: str, laneway_namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {MANAGED_BY: MANAGER, NAMESPACE_LABEL: laneway_namespace}},
    }


def render(replica: ModelReplica, cluster: InferenceCluster, options: RenderOptions = RenderOptions()) -> list[dict[str, Any]]:
    """Every object the replica needs on `cluster`. Raises RenderError when the replica cannot be
    expressed (the message says what to change)."""
    if replica.spec.cluster_name != cluster.name:
        raise RenderError(
            f"replica {replica.key} is placed on cluster {replica.spec.cluster_name!r}, not {cluster.name!r}; "
            "render it with the cluster it names in spec.clusterName"
        )
    if not replica.namespace:
        raise RenderError(f"replica {replica.name!r} has no namespace; ModelReplicas are namespaced")
    unpinned = [
        f"{e.name}/{m.role}" for e in replica.spec.engines for m in e.members if m.device_requests and not m.node_pool_name
    ]
    if unpinned:
        raise RenderError(
            f"replica {replica.key} has members that claim devices but name no node pool ({', '.join(unpinned)}); "
            "replicas are pinned by the scheduler, so let laneway place it rather than writing it by hand"
        )
    settings = cluster_settings(cluster)
    namespace = target_namespace(replica.namespace)
    routing = RoutingOptions(gateway=settings.gateway, picker_image=options.picker_image, route_timeout=settings.route_timeout)

    objects: list[dict[str, Any]] = [namespace_object(namespace, replica.namespace)]
    for engine in replica.spec.engines:
        objects += engine_objects(replica, engine, namespace, cluster=cluster, settings=settings)
    objects += engine_services(replica, namespace)
    if replica.spec.serving.mode == "PrefillDecode":
        objects += inference_pool(replica, namespace, routing)
    objects += http_routes(replica, namespace, routing)
    check_names(replica, objects)

    if options.target_cluster_annotation:
        for obj in objects:
            obj["metadata"].setdefault("annotations", {})[TARGET_CLUSTER_ANNOTATION] = cluster.name
    return objects


def check_names(replica: ModelReplica, objects: list[dict[str, Any]]) -> None:
    """No two objects of a kind share a name, and no Service takes a LeaderWorkerSet's name:
    LeaderWorkerSet creates its headless Service under the set's name only when none exists,
    and its leader address resolves only through that Service. Engine names such as `a` and
    `a-leader` could otherwise collide; the message says which to rename."""
    seen: dict[tuple[str, str], str] = {}
    reserved = {("Service", o["metadata"]["name"]): f"the headless Service of LeaderWorkerSet {o['metadata']['name']}"
                for o in objects if o["kind"] == "LeaderWorkerSet"}
    for o in objects:  # Grove's headless Service per group: `<set>-<index>`
        if o["kind"] == "PodCliqueSet":
            for index in range(int(o["spec"]["replicas"])):
                reserved[("Service", f"{o['metadata']['name']}-{index}")] = f"the headless Service of PodCliqueSet {o['metadata']['name']}"
    for obj in objects:
        key = (str(obj["kind"]), str(obj["metadata"]["name"]))
        clash = seen.get(key) or reserved.get(key)
        if clash is not None:
            raise RenderError(
                f"replica {replica.key}: {object_id(obj)} would have the same name as {clash}; "
                "rename one of the engines so their names do not overlap"
            )
        seen[key] = object_id(obj)


def object_id(obj: dict[str, Any]) -> str:
    """`Kind namespace/name` (or `Kind name`), for messages."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
    return f"{obj.get('kind')} {where}"


__all__ = ["RenderError", "RenderOptions", "check_names", "namespace_object", "object_id", "render"]
