"""Which clusters are lost: NotReady for longer than their grace period (pure, time passed in).

A cluster that stops answering is not given up at once: a driver that cannot reach it for a
few seconds, or a control plane restarting, must not move a fleet. Only a cluster whose Ready
condition has been other than True for `spec.notReadyGracePeriod` (default five minutes, as
Kubernetes waits before evicting pods from an unreachable node) is lost; the scheduler then
places replacements for its replicas elsewhere (see `plan_fleet`'s `lost`). A cluster whose
Ready condition has no (readable) transition time is not judged lost: nothing says how long it
has been down.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def lost_clusters(clusters: Sequence[InferenceCluster], *, now: float) -> LostClusters:
    lost: set[str] = set()
    upcoming: list[float] = []
    for c in clusters:
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
    return LostClusters(frozenset(lost), min(upcoming) if upcoming else None)
