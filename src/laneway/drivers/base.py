"""The Driver protocol and the capabilities a driver may add, each a declared seam.

A driver applies a replica on its cluster, observes it, tears it down and reports the URLs
its serving members answer on. The ModelReplica controller is the only caller of that core;
it turns what a driver observes into conditions and ModelEndpoints. Drivers are looked up by
the cluster's `spec.cluster.source` (see `drivers/registry.py`).

Beyond the core, a driver declares what else it can do by implementing a capability protocol,
and callers ask with `isinstance(driver, Capability)` (the protocols are `runtime_checkable`),
never by probing for a method name:

- `CacheStager`: stages ModelCaches on its clusters (Local: files under the data directory;
  Kubernetes: a claim and a hydration Job). The ModelCache controller uses it.
- `GatewayReporter`: knows the address of its cluster's gateway (Kubernetes reads its
  Gateway's status). The InferenceCluster controller uses it.
- `ExitReporter`: says the moment an engine process of a replica exits (Local: its
  supervisor sees it), so the ModelReplica controller takes the replica's endpoints out of
  the store at once instead of at its next look.
- `PoolReporter`: says how many nodes each pool of a cluster has now, where that follows
  what joined rather than the manifest (Machines: the Ready machines of each pool). The
  InferenceCluster controller publishes it in `status.gpuPools`, which placement reads.
- `Paced`: says how often its replicas and clusters need looking at (a simulated cluster
  changes only when told, so it is not polled). The ModelReplica and InferenceCluster
  controllers use it; other drivers are polled on the controllers' own schedule.

`tests/unit/drivers/test_driver_conformance.py` checks that every registered driver conforms
to the protocols it claims, signature by signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.state import CacheState
from laneway.egress.policy import EgressPolicy

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


@runtime_checkable
class Driver(Protocol):
    """Where replicas run: the core every driver implements."""

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


@runtime_checkable
class CacheStager(Protocol):
    """A driver that stages ModelCaches on its clusters, once per cluster.

    `apply_cache` starts (or keeps going) what stages the cache and returns at once;
    `observe_cache` reports where staging stands without changing anything; `delete_cache`
    removes the cluster's copy (idempotent). Each raises only for a cluster it cannot reach
    now; a cache that cannot be staged there is a `Failed` state with its reason. `egress` is
    the fleet's egress policy, which every connection the staging makes for the source obeys
    (None: the default policy).
    """

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None: ...

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState: ...

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None: ...


@runtime_checkable
class GatewayReporter(Protocol):
    """A driver that knows the address its cluster's gateway answers on (None: not yet)."""

    async def gateway_address(self, cluster: InferenceCluster) -> str | None: ...


@runtime_checkable
class StandaloneStager(CacheStager, Protocol):
    """A `CacheStager` that needs no running driver, only this process and its data directory
    (Local clusters' cache files): the ModelCache controller runs one for a source whose
    driver is not started here. It stages in threads of its own; `wait` joins them."""

    def wait(self, timeout: float = 5.0) -> None: ...


@runtime_checkable
class ExitReporter(Protocol):
    """A driver that knows at once when an engine process of a replica exits unasked (a crash,
    a kill): `on_exit(callback)` sets the one callback it then calls with the replica's
    namespace and name, on the loop the driver runs on. The callback must not block long."""

    def on_exit(self, callback: Callable[[str, str], None]) -> None: ...


@runtime_checkable
class DrainsItself(Protocol):
    """A driver whose workloads finish their own requests when stopped, and whose serving
    addresses are a cluster gateway's rather than an engine's own (Kubernetes: pods get a
    preStop sleep and a termination grace period). laneway's drain still takes such a replica
    out of the routing table and waits out the settle time, but reads no engine metrics
    through its address: behind a cluster gateway they are not the engine's."""

    drains_itself: bool


@runtime_checkable
class Paced(Protocol):
    """A driver that says how often the controllers must look at what it runs.

    `observe_interval`: seconds between looks at a Ready replica (None: never; its changes
    arrive as events). `health_interval`: the same for its clusters. `starting_for(replica)`:
    seconds until a starting replica is due to be Ready, None when unknown.
    """

    observe_interval: float | None
    health_interval: float | None

    def starting_for(self, replica: ModelReplica) -> float | None: ...


@runtime_checkable
class PoolReporter(Protocol):
    """A driver whose clusters' pools have as many nodes as have joined them (by pool name)."""

    async def pool_nodes(self, cluster: InferenceCluster) -> dict[str, int]: ...
