"""The machines of a Machines cluster, as the store keeps them: `status.machines` of the
InferenceCluster, and one lease per machine that its agent's heartbeat renews.

Why a lease for the heartbeat: renewing one is a small write that wakes no watcher, where
rewriting the cluster's status every few seconds per machine would wake every controller that
watches clusters. The status changes only when something a reader cares about does: a machine
joins or leaves, turns Ready or NotReady, is given a replica, or reports a replica changed.

Every change is a read-modify-write of the cluster's status carrying its resourceVersion; a
concurrent write (a heartbeat of another machine, the cluster controller) makes it read again.
These functions are synchronous (the store is); async callers run them in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import InferenceCluster, MachineStatus
from laneway.api.meta import ObjectKey, rfc3339
from laneway.store.base import Conflict, NotFound, Store

RETRIES = 20


class ClusterGone(LookupError):
    """The cluster was deleted (or was never one of source Machines)."""


def lease_name(cluster: str, machine: str) -> str:
    return f"machine/{cluster}/{machine}"


def grace_seconds(cluster: InferenceCluster) -> float:
    block = cluster.spec.cluster.machines
    return parse_duration(block.heartbeat_grace_period) if block is not None else 15.0


def machines_cluster(store: Store, name: str) -> InferenceCluster:
    """The Machines cluster `name`; raises ClusterGone when there is none."""
    cluster = store.find(InferenceCluster, ObjectKey("", name))
    if cluster is None or cluster.spec.cluster.source != "Machines":
        raise ClusterGone(f"there is no InferenceCluster {name!r} of source Machines")
    return cluster


Edit = Callable[[InferenceCluster, list[MachineStatus]], "list[MachineStatus] | None"]
"""Given the cluster as read and a copy of its machines, the machines to store (None: no change)."""


def edit_machines(store: Store, name: str, edit: Edit) -> InferenceCluster:
    """Apply `edit` to the cluster's machines and store the result, reading again on a conflict;
    the cluster as stored afterwards."""
    for _ in range(RETRIES):
        cluster = machines_cluster(store, name)
        machines = [m.model_copy(deep=True) for m in cluster.status.machines]
        changed = edit(cluster, machines)
        if changed is None or [m.wire() for m in changed] == [m.wire() for m in cluster.status.machines]:
            return cluster
        status = cluster.status.model_copy(update={"machines": changed})
        try:
            return store.update_status(cluster.model_copy(update={"status": status}))
        except Conflict:
            continue
        except NotFound:
            raise ClusterGone(f"InferenceCluster {name!r} was deleted") from None
    raise Conflict(f"the status of InferenceCluster {name!r} kept changing; try again")


def heard_from(store: Store, cluster: InferenceCluster, machine: str) -> bool:
    """Renew the machine's heartbeat lease; True while the lease is the machine's own."""
    return store.acquire_lease(lease_name(cluster.name, machine), machine, grace_seconds(cluster))


def alive(store: Store, cluster: str, machine: str, now: float | None = None) -> bool:
    lease = store.get_lease(lease_name(cluster, machine))
    return lease is not None and lease.holder == machine and lease.expires_at > (now if now is not None else time.time())


def refresh_readiness(store: Store, name: str, *, watching_since: float, now: float | None = None) -> InferenceCluster:
    """Mark each machine Ready or NotReady by its heartbeat lease; the cluster as stored.

    A machine is judged NotReady only by a process that has itself been watching for a grace
    period (`watching_since`): after the control plane was down, every lease has run out
    while the agents kept beating at a door that was closed, and their replicas must not all
    move at once because of it."""
    when = now if now is not None else time.time()

    def edit(cluster: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus]:
        judging = when - watching_since >= grace_seconds(cluster)
        for m in machines:
            ready = alive(store, cluster.name, m.name, when)
            if not ready and not judging:
                continue
            if ready != m.ready:
                m.ready = ready
                m.since = rfc3339(when)
                m.message = "heartbeat received" if ready else (
                    f"no heartbeat for {cluster.spec.cluster.machines.heartbeat_grace_period if cluster.spec.cluster.machines else '15s'}: "
                    "its endpoints take no traffic and its replicas go to another machine of the pool with room"
                )
        return machines

    return edit_machines(store, name, edit)
