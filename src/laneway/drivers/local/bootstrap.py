"""The `local` cluster `laneway up` registers: this machine, as one pool of one node.

The pool uses device-granular accounting, so several replicas that each claim fewer devices
than the machine has share it (a 2-core machine takes two replicas asking for one core each).
Registration is an upsert: the class follows the hardware each start, and a platform team's
own edits to the cluster (labels, taints) are kept.
"""

from __future__ import annotations

from laneway.api.kinds.platform import (
    ClusterSource,
    InferenceClass,
    InferenceCluster,
    InferenceClusterSpec,
    LocalSource,
    NodePool,
)
from laneway.api.meta import ObjectKey, ObjectMeta
from laneway.drivers.local.discovery import Nvml, discover_local_class
from laneway.store.base import NotFound, Store

LOCAL_CLUSTER = "local"
LOCAL_POOL = "local"
LOCAL_LABELS = {
    "laneway.dev/region": "local",
    "laneway.dev/cloud": "on-prem",
    "laneway.dev/tier": "dev",
    "laneway.dev/source": "local",
}


def local_cluster(cls: InferenceClass) -> InferenceCluster:
    return InferenceCluster(
        metadata=ObjectMeta(name=LOCAL_CLUSTER, labels=dict(LOCAL_LABELS)),
        spec=InferenceClusterSpec(
            cluster=ClusterSource(source="Local", local=LocalSource()),
            node_pools=[NodePool(name=LOCAL_POOL, class_name=cls.name, node_count=1, accounting="Device")],
        ),
    )


def register_local_cluster(store: Store, *, nvml: Nvml | None = None) -> tuple[InferenceClass, InferenceCluster]:
    """Create or refresh the discovered class and the `local` cluster; returns both as stored."""
    cls = discover_local_class(nvml)
    try:
        current = store.get("InferenceClass", ObjectKey("", cls.name))
        if current.spec != cls.spec:  # type: ignore[attr-defined]
            current.spec = cls.spec  # type: ignore[attr-defined]
            current = store.update(current)
        stored_cls = current
    except NotFound:
        stored_cls = store.create(cls)
    wanted = local_cluster(cls)
    try:
        cluster = store.get("InferenceCluster", ObjectKey("", LOCAL_CLUSTER))
        pools = cluster.spec.node_pools  # type: ignore[attr-defined]
        if not any(p.name == LOCAL_POOL and p.class_name == cls.name for p in pools):
            cluster.spec.node_pools = [p for p in pools if p.name != LOCAL_POOL] + wanted.spec.node_pools  # type: ignore[attr-defined]
            cluster = store.update(cluster)
    except NotFound:
        cluster = store.create(wanted)
    assert isinstance(stored_cls, InferenceClass) and isinstance(cluster, InferenceCluster)
    return stored_cls, cluster
