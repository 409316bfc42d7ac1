"""The scheduler's answer, as small immutable records (no I/O, no pydantic in the hot path).

A `Placement` says, for one deployment: which replicas exist (retained or new) and where each
engine and member runs; which existing replicas to remove; the ReplicasScheduled condition;
and, when short, the reasons per cluster and per pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from laneway.api.meta import ObjectKey

ScheduledReason = Literal["Scheduled", "NoClusters", "InsufficientCapacity", "InvalidNodeSelector", "NoMatchingDevices"]


@dataclass(frozen=True)
class DeviceClaim:
    """A DRA device request a member claims on its pool (Synthetic devices never become claims)."""

    name: str
    device_class_name: str
    count: int
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberPlacement:
    role: str
    pool: str
    device_requests: tuple[DeviceClaim, ...] = ()


@dataclass(frozen=True)
class EnginePlacement:
    name: str
    pool: str
    members: tuple[MemberPlacement, ...]


@dataclass(frozen=True)
class ReplicaPlacement:
    """One replica of the plan. `name` is the ModelReplica object it is (a retained replica
    keeps the name it has, whatever its index; a new one is `<deployment>-<index>`), so two
    input replicas that carry the same index are still two replicas. `replaces` names the
    replica on a lost cluster this one stands in for (see `Placement`)."""

    index: int
    cluster: str
    engines: tuple[EnginePlacement, ...]
    retained: bool = False
    name: str = field(default="", kw_only=True)
    replaces: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Reason:
    """Why something could not be placed, scoped to clusters (and a pool) so the reader knows where to act."""

    message: str
    clusters: tuple[str, ...] = ()
    pool: str | None = None

    def text(self, *, shown: int = 3) -> str:
        if not self.clusters:
            return self.message
        names = ", ".join(self.clusters[:shown])
        if len(self.clusters) > shown:
            names += f" and {len(self.clusters) - shown} more"
        where = f"{self.pool} pool in {names}" if self.pool else names
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ScheduledCondition:
    status: Literal["True", "False"]
    reason: ScheduledReason
    message: str


@dataclass(frozen=True)
class Placement:
    deployment: ObjectKey
    wanted: int
    replicas: tuple[ReplicaPlacement, ...]
    removed: tuple[int, ...]
    condition: ScheduledCondition
    reasons: tuple[Reason, ...] = field(default=())
    removed_names: tuple[str, ...] = field(default=(), kw_only=True)
    """The ModelReplica objects the plan drops, by name (`removed` holds their indexes)."""
    stranded: tuple[str, ...] = field(default=(), kw_only=True)
    """Replicas kept on a lost cluster (NotReady past its grace period) until a replacement is
    Ready: in `replicas`, but not counted toward `wanted`."""

    @property
    def short(self) -> int:
        return max(0, self.wanted - (len(self.replicas) - len(self.stranded)))
