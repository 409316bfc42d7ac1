"""Which clusters are lost: NotReady for longer than their grace period (pure, time passed in).

A cluster that stops answering is not given up at once: a driver that cannot reach it for a
few seconds, or a control plane restarting, must not move a fleet. Only a cluster whose Ready
condition has been other than True for `spec.notReadyGracePeriod` (default five minutes, as
Kubernetes waits before evicting pods from an unreachable node) is lost; the scheduler then
places replacements for its replicas elsewhere (see `plan_fleet`'s `lost`). A cluster whose
Ready condition has no (readable) transition time is not judged lost: nothing says how long it
has been down.

A Machines cluster can lose one pool while the rest of it serves: when every machine that
joined a pool has been NotReady for the cluster's grace period (counted from the last of them
to go), or the pool has no machine left at all (removed), the pool is lost, written
`cluster/pool` among the names (a name has no `/`), and the replicas pinned to it are replaced
elsewhere as for a lost cluster (`replica_lost`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from laneway.api.conditions import find_condition
from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import InferenceCluster

DEFAULT_NOT_READY_GRACE_PERIOD = 300.0


@dataclass(frozen=True)
class LostClusters:
    """Clusters lost now, and when the next NotReady one will be (seconds since the epoch),
    so a controller can look again then without being told."""

    names: frozenset[str]
    next_at: float | None
    pending: frozenset[str] = frozenset()
    """Clusters with a NotReady pool of machines not lost yet: look again at `next_at`."""


def grace_period(cluster: InferenceCluster) -> float:
    text = cluster.spec.not_ready_grace_period
    return parse_duration(text) if text else DEFAULT_NOT_READY_GRACE_PERIOD


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()  # Python 3.11 reads the trailing Z
    except ValueError:
        return None


def pool_key(cluster: str, pool: str) -> str:
    """How a lost pool of machines is named among the lost clusters."""
    return f"{cluster}/{pool}"


def replica_lost(cluster: str, pools: Iterable[str], lost: frozenset[str]) -> bool:
    """Whether a replica on `cluster`, pinned to `pools`, is on a lost cluster or pool."""
    return cluster in lost or any(pool_key(cluster, p) in lost for p in pools)


def _machine_pools(c: InferenceCluster, *, now: float, lost: set[str], upcoming: list[float], pending: set[str]) -> None:
    """The pools of a Machines cluster whose machines are all NotReady (or gone), judged."""
    if c.spec.cluster.source != "Machines":
        return
    for pool in c.spec.node_pools:
        machines = [m for m in c.status.machines if m.pool == pool.name]
        if any(m.ready for m in machines):
            continue
        went = [t for m in machines if (t := _since(m.since)) is not None]
        if machines and len(went) < len(machines):
            continue  # not all say when they went: not judged
        at = max(went) + grace_period(c) if went else now
        if at <= now:
            lost.add(pool_key(c.name, pool.name))
        else:
            upcoming.append(at)
            pending.add(c.name)


def lost_clusters(clusters: Sequence[InferenceCluster], *, now: float) -> LostClusters:
    lost: set[str] = set()
    upcoming: list[float] = []
    pending: set[str] = set()
    for c in clusters:
        _machine_pools(c, now=now, lost=lost, upcoming=upcoming, pending=pending)
        ready = find_condition(c.status.conditions, "Ready")
        if ready is None or ready.status == "True":
            continue
        since = _since(ready.last_transition_time)
        if since is None:
            continue
        at = since + grace_period(c)
        if at <= now:
            lost.add(c.name)
        else:
            upcoming.append(at)
    return LostClusters(frozenset(lost), min(upcoming) if upcoming else None, frozenset(pending))
