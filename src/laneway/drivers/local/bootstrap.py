"""The `local` cluster `laneway up` registers: this machine, as one pool of one node.

The pool uses device-granular accounting, so several replicas that each claim fewer devices
than the machine has share it (a 2-core machine takes two replicas asking for one core each).
Registration is an upsert: the class follows the hardware each start, and a platform team's
own edits to the cluster (labels, taints) are kept.

At start, `forget_stale_engines` also drops the endpoints and Ready statuses a previous run
left for replicas on Local clusters, whose engines cannot have outlived that run.
"""

from __future__ import annotations

from laneway.api.conditions import set_condition
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import (
    ClusterSource,
    InferenceClass,
    InferenceCluster,
    InferenceClusterSpec,
    LocalSource,
    NodePool,
)
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.labels import REPLICA_LABEL
from laneway.api.meta import ObjectKey, ObjectMeta
from laneway.api.selectors import Requirement
from laneway.drivers.local.discovery import Nvml, discover_local_class
from laneway.store.base import AlreadyExists, Conflict, NotFound, Store

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
    """Create or refresh the discovered class and the `local` cluster; returns both as stored.

    Several `laneway up` processes starting together on one shared (PostgreSQL) store race
    here; the loser of a race (AlreadyExists, Conflict) reads again and finds the winner's
    objects, so every process starts."""
    cls = discover_local_class(nvml)
    for attempt in range(5):
        try:
            return _register(store, cls)
        except (AlreadyExists, Conflict):
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _register(store: Store, cls: InferenceClass) -> tuple[InferenceClass, InferenceCluster]:
    try:
        current = store.get(InferenceClass, ObjectKey("", cls.name))
        if current.spec != cls.spec:
            current.spec = cls.spec
            current = store.update(current)
        stored_cls = current
    except NotFound:
        stored_cls = store.create(cls)
    wanted = local_cluster(cls)
    try:
        cluster = store.get(InferenceCluster, ObjectKey("", LOCAL_CLUSTER))
        pools = cluster.spec.node_pools
        if not any(p.name == LOCAL_POOL and p.class_name == cls.name for p in pools):
            cluster.spec.node_pools = [p for p in pools if p.name != LOCAL_POOL] + wanted.spec.node_pools
            cluster = store.update(cluster)
    except NotFound:
        cluster = store.create(wanted)
    return stored_cls, cluster


def forget_stale_engines(store: Store) -> int:
    """Drop what a previous run said about engines on Local clusters; returns how many replicas.

    Why: when `laneway up` starts, none of its engines runs yet (they stopped with the previous
    run, even one killed with SIGKILL: PR_SET_PDEATHSIG), but the store still holds their
    ModelEndpoints and Ready statuses. Left there, the gateway would send requests to dead
    ports, and clients would see Ready replicas, until the controllers (which may first wait
    for the previous run's lease to expire) start the engines again. So the endpoints go and
    the replicas read as starting; the ModelReplica controller then takes over as usual.
    """
    local = {
        c.name for c in store.list(InferenceCluster).items if c.spec.cluster.source == "Local"
    }
    count = 0
    for replica in store.list(ModelReplica).items:
        if replica.spec.cluster_name not in local:
            continue
        count += 1
        selector = [Requirement(REPLICA_LABEL, "In", (replica.name,))]
        for endpoint in store.list(ModelEndpoint, namespace=replica.namespace, selector=selector).items:
            try:
                store.delete(ModelEndpoint, endpoint.key)
            except NotFound:
                pass
        if replica.status.phase == "Ready":  # others (Pending on a cache, Failed) say nothing stale
            replica.status.conditions = set_condition(
                list(replica.status.conditions), type="Ready", status="False", reason="EnginesStarting",
                message="laneway restarted; starting the engines again", observed_generation=replica.metadata.generation,
            )
            replica.status.phase = "Starting"
            try:
                store.update_status(replica)
            except (Conflict, NotFound):
                pass  # someone else wrote it first: their word is newer than ours
    return count
