"""The driver of simulated clusters: kwok for laneway.

A Simulated InferenceCluster exists only in laneway. Its replicas turn Ready `startupSeconds`
after they are first applied, without a process, a container or a device behind them, so one
machine can hold a fleet of a thousand clusters and test the control plane, the scheduler and
the gateway at a size no test rig has, or answer capacity questions ("what if we add 50 H200
nodes in eu-west": apply the clusters, apply the deployments, read where they land).

Endpoints: with `endpoints: Simulator` every serving member of every replica answers on one
in-process vLLM-like simulator (`laneway engine sim`, started on first use on a free loopback
port, stopped with the driver), so the gateway routes real HTTP; with `None` (the default) a
replica publishes no endpoint, for placement-only runs.

Failure: `reachable: false` makes the cluster NotReady and every replica on it not Ready, as a
lost region would look; edit it back to see the region return.

What it does not simulate: engine crashes and restarts (the simulator's own fault injection
does that per request), devices, images, caches on disk (a ModelCache on a simulated cluster
is never staged there), or the time a real cluster takes to pull and load a model beyond the
fixed `startupSeconds`.

Nothing here needs polling: what a replica looks like changes only with its cluster's spec,
whose edits reach the replica controller as events, so `observe_interval` is None for Ready
replicas and `health_interval` None for clusters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, SimulatedSource
from laneway.api.meta import ObjectKey
from laneway.drivers.base import ReplicaObservation, ServingAddress
from laneway.engines.sim.config import SimConfig

SERVING_ROLES = ("Standalone", "Leader")


@dataclass
class _Running:
    cluster: str
    applied_at: float
    source: SimulatedSource


class SimulatedDriver:
    """Keeps, in memory, which replicas were applied where and when."""

    observe_interval: float | None = None
    health_interval: float | None = None

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, host: str = "127.0.0.1") -> None:
        self._clock = clock
        self._host = host
        self._replicas: dict[ObjectKey, _Running] = {}
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._config = SimConfig()

    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        source = cluster.spec.cluster.simulated or SimulatedSource()
        current = self._replicas.get(replica.key)
        if current is None or current.cluster != cluster.name:
            self._replicas[replica.key] = _Running(cluster.name, self._clock(), source)
        else:
            current.source = source
        if source.endpoints == "Simulator" and source.reachable:
            await self._simulator()

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        running = self._replicas.get(replica.key)
        if running is None:
            return ReplicaObservation(False, "NotApplied", "the replica has not been applied on its simulated cluster yet")
        if not running.source.reachable:
            return ReplicaObservation(False, "ClusterUnreachable", f"simulated cluster {running.cluster} is marked reachable: false")
        left = running.applied_at + running.source.startup_seconds - self._clock()
        if left > 0:
            return ReplicaObservation(False, "EnginesStarting", f"simulated start-up: Ready in {left:.1f}s")
        addresses: tuple[ServingAddress, ...] = ()
        if running.source.endpoints == "Simulator" and self._url is not None:
            addresses = tuple(
                ServingAddress(engine.name, copy, self._url, True, (self._config.model_name,))
                for engine in replica.spec.engines
                for copy in range(engine.copies)
                if any(m.role in SERVING_ROLES for m in engine.members)
            )
        return ReplicaObservation(True, "Ready", f"simulated on {running.cluster}", addresses=addresses)

    def starting_for(self, replica: ModelReplica) -> float | None:
        """Seconds until the replica turns Ready, while it is starting (the controller looks
        again then instead of polling)."""
        running = self._replicas.get(replica.key)
        if running is None or not running.source.reachable:
            return None
        left = running.applied_at + running.source.startup_seconds - self._clock()
        return left if left > 0 else None

    async def teardown(self, replica: ModelReplica) -> None:
        self._replicas.pop(replica.key, None)

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        source = cluster.spec.cluster.simulated or SimulatedSource()
        if not source.reachable:
            return False, "simulated cluster marked reachable: false (set it to true to bring it back)"
        return True, "simulated cluster"

    async def gateway_address(self, cluster: InferenceCluster) -> str:
        """A simulated cluster has no gateway of its own: its endpoints are what is routed."""
        return self._url or f"simulated.{cluster.name}.invalid"

    async def _simulator(self) -> str:
        if self._url is None:
            from laneway.engines.sim.server import create_sim_app

            runner = web.AppRunner(create_sim_app(self._config), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, self._host, 0)
            await site.start()
            self._runner = runner
            self._url = f"http://{self._host}:{runner.addresses[0][1]}"
        return self._url

    async def close(self) -> None:
        self._replicas.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self._url = None, None
