"""The Driver protocol: where replicas run, behind one interface.

A driver applies a replica on its cluster, observes it, tears it down and reports the URLs
its serving members answer on. The ModelReplica controller is the only caller; it turns what
a driver observes into conditions and ModelEndpoints. Drivers are looked up by the cluster's
`spec.cluster.source` (see `drivers/registry.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster

MemberPhase = Literal["Pending", "Starting", "Running", "Ready", "CrashLoopBackOff", "Stopped"]


@dataclass(frozen=True)
class MemberObservation:
    id: str
    engine: str
    phase: MemberPhase
    ready: bool
    restarts: int = 0
    message: str = ""


@dataclass(frozen=True)
class ServingAddress:
    """One URL a serving member (Standalone or Leader) answers on."""

    engine: str
    copy: int
    url: str
    ready: bool
    models: tuple[str, ...] = ()  # the model ids the engine lists on /v1/models, when known


@dataclass(frozen=True)
class ReplicaObservation:
    ready: bool
    reason: str
    message: str = ""
    members: tuple[MemberObservation, ...] = ()
    addresses: tuple[ServingAddress, ...] = field(default=())


class Driver(Protocol):
    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        """Make the replica run as specified; idempotent."""

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        """What runs now, without changing anything."""

    async def teardown(self, replica: ModelReplica) -> None:
        """Stop and remove everything the replica runs; idempotent."""

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        """Whether the driver can run replicas on this cluster, and why not."""

    async def close(self) -> None:
        """Stop what this driver owns in this process."""
