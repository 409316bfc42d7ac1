"""LocalDriver: the Driver for `cluster.source: Local`, one Supervisor per replica process.

Ports are chosen free once per process and kept across restarts, so an endpoint's URL is
stable while its replica lives. A replica whose processes' specification changed (another
command, env or args) has those processes restarted; the others keep running.

Only what the cluster's allowed engines run is started (`spec.cluster.local.engines`, see
`laneway.placement.engines`): a replica whose container none of them runs gets no process, and
observing it says `EngineNotAllowed` with the allowed engines. Every process is confined as
`sandbox.py` describes, with its working directory under `<data-dir>/engines/<replica uid>/`,
removed when the replica is torn down.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.layout import cache_path
from laneway.cache.state import CacheState
from laneway.drivers.base import ReplicaObservation, ServingAddress
from laneway.drivers.local.caches import LocalCaches
from laneway.drivers.local.processes import (
    EngineNotAllowed,
    ProcessSpec,
    replica_processes,
)
from laneway.drivers.local.sandbox import (
    Confinement,
    detect_confinement,
    engine_launch,
    laneway_root,
    prepare_workdir,
)
from laneway.drivers.local.supervisor import Supervisor
from laneway.egress.policy import EgressPolicy
from laneway.placement.engines import DEFAULT_LOCAL_ENGINES, engine_policy


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _same_process(a: ProcessSpec, b: ProcessSpec) -> bool:
    return (a.argv, a.env, a.serving) == (b.argv, b.env, b.serving)


class LocalDriver:
    def __init__(
        self,
        *,
        logs_dir: Path,
        cache_dir: Path | None = None,
        data_dir: Path | None = None,
        confinement: Confinement | None = None,
        caches: LocalCaches | None = None,
    ) -> None:
        self.logs_dir = logs_dir
        self.cache_dir = cache_dir
        self.caches = caches if caches is not None else LocalCaches(cache_dir)
        self.data_dir = data_dir if data_dir is not None else logs_dir.parent
        self.work_root = self.data_dir / "engines"
        self._confinement = confinement
        self._replicas: dict[str, dict[str, Supervisor]] = {}
        self._ports: dict[str, dict[str, int]] = {}
        self._refused: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._exit_callback: Callable[[str, str], None] | None = None

    async def confinement(self) -> Confinement:
        """How engines are confined here, looked at once (it runs a trial sandbox)."""
        if self._confinement is None:
            self._confinement = await asyncio.to_thread(detect_confinement, data_dir=self.data_dir, work_root=self.work_root)
        return self._confinement

    def _workdir(self, replica: ModelReplica, spec: ProcessSpec) -> Path:
        return self.work_root / (replica.metadata.uid or f"{replica.namespace}-{replica.name}") / spec.id

    @staticmethod
    def _rkey(replica: ModelReplica) -> str:
        return f"{replica.namespace}/{replica.name}/{replica.metadata.uid}"

    def _new_port(self) -> int:
        """A free port that no process of this driver holds yet.

        Why the check: the kernel may hand the same free port out twice when it is asked again
        before the first engine binds it (several replicas are applied at once when a
        deployment scales), and two engines on one port would leave one crash-looping.
        """
        taken = {port for ports in self._ports.values() for port in ports.values()}
        for _ in range(100):
            port = free_port()
            if port not in taken:
                return port
        raise RuntimeError("no free TCP port on 127.0.0.1 after 100 tries")

    def log_dir(self, replica: ModelReplica) -> Path:
        return self.logs_dir / replica.namespace / replica.name

    def _cache_path(self, replica: ModelReplica) -> str | None:
        ref = replica.spec.model_cache_ref
        if ref is None or self.cache_dir is None:
            return None
        return str(cache_path(self.cache_dir, cluster=replica.spec.cluster_name, namespace=replica.namespace, name=ref.name))

    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        await self.apply_members(replica, cluster)

    async def apply_members(
        self,
        replica: ModelReplica,
        cluster: InferenceCluster,
        *,
        members: frozenset[str] | None = None,
        leader_addresses: Mapping[str, str] | None = None,
    ) -> None:
        """`apply`, for the processes named in `members` only (all when None), with leaders
        that run elsewhere at `leader_addresses` (by `gang_key`): what `laneway agent` runs of a
        gang spread over machines. Processes of the replica not named are stopped."""
        confinement = await self.confinement()
        async with self._lock:
            rkey = self._rkey(replica)
            ports = self._ports.setdefault(rkey, {})
            mounted_cache = self._cache_path(replica)
            try:
                specs = replica_processes(
                    replica,
                    allocate_port=lambda pid: ports[pid] if pid in ports else ports.setdefault(pid, self._new_port()),
                    cache_path=mounted_cache,
                    policy=engine_policy(cluster) or DEFAULT_LOCAL_ENGINES,
                    leader_addresses=leader_addresses,
                )
            except EngineNotAllowed as e:
                self._refused[rkey] = str(e)
                specs = []
            else:
                self._refused.pop(rkey, None)
            if members is not None:
                specs = [s for s in specs if s.id in members]
            running = self._replicas.setdefault(rkey, {})
            wanted = {s.id: s for s in specs}
            for pid in [p for p in running if p not in wanted or not _same_process(running[p].spec, wanted[p])]:
                await running.pop(pid).stop()
            package = str(laneway_root())
            for pid, spec in wanted.items():
                if pid not in running:
                    workdir = self._workdir(replica, spec)
                    prepare_workdir(workdir, confinement)
                    launch = engine_launch(
                        confinement,
                        argv=spec.argv,
                        spec_env=dict(spec.env),
                        workdir=workdir,
                        read_only=[Path(mounted_cache)] if mounted_cache else [],
                        python_path=package if spec.runs_laneway else None,
                    )
                    sup = Supervisor(spec, launch=launch, log_path=self.log_dir(replica) / f"{pid}.log",
                                     tail_in_status=confinement.hides_laneway_data,
                                     on_exit=functools.partial(self._exited, replica.namespace, replica.name))
                    running[pid] = sup
                    sup.start()

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        refused = self._refused.get(self._rkey(replica))
        if refused is not None:
            return ReplicaObservation(ready=False, reason="EngineNotAllowed", message=refused)
        running = self._replicas.get(self._rkey(replica))
        if not running:
            return ReplicaObservation(ready=False, reason="NotStarted", message="no process runs for this replica yet")
        members = tuple(s.observe() for s in running.values())
        addresses = tuple(
            ServingAddress(engine=s.spec.engine, copy=s.spec.copy, url=s.url, ready=s.observe().ready, models=s.models)
            for s in running.values()
            if s.spec.serving
        )
        crashing = [m for m in members if m.phase == "CrashLoopBackOff"]
        if crashing:
            m = crashing[0]
            return ReplicaObservation(False, "CrashLoopBackOff", f"{m.id}: {m.message}", members, addresses)
        waiting = [m for m in members if not m.ready]
        if waiting:
            names = ", ".join(f"{m.id} ({m.phase.lower()})" for m in waiting)
            return ReplicaObservation(False, "EnginesStarting", f"waiting for {names}", members, addresses)
        return ReplicaObservation(True, "EnginesReady", f"{len(members)} process(es) ready", members, addresses)

    # -- ExitReporter: an engine that exits unasked is reported at once -----------------------

    def on_exit(self, callback: Callable[[str, str], None]) -> None:
        self._exit_callback = callback

    def _exited(self, namespace: str, name: str) -> None:
        if self._exit_callback is not None:
            self._exit_callback(namespace, name)

    async def teardown(self, replica: ModelReplica) -> None:
        async with self._lock:
            rkey = self._rkey(replica)
            running = self._replicas.pop(rkey, {})
            self._ports.pop(rkey, None)
            self._refused.pop(rkey, None)
            await asyncio.gather(*(s.stop() for s in running.values()))
            if replica.metadata.uid:
                await asyncio.to_thread(shutil.rmtree, self.work_root / replica.metadata.uid, True)

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        confinement = await self.confinement()
        return True, f"processes run on this machine; {confinement.describe()}"

    # -- CacheStager: the cache directories engines here mount (see caches.py) ---------------

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None:
        await self.caches.apply_cache(cache, cluster, credential=credential, egress=egress)

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        return await self.caches.observe_cache(cache, cluster)

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        await self.caches.delete_cache(cache, cluster)

    async def close(self) -> None:
        async with self._lock:
            sups = [s for r in self._replicas.values() for s in r.values()]
            self._replicas.clear()
            self._ports.clear()
            await asyncio.gather(*(s.stop() for s in sups))

    def pids(self, replica: ModelReplica) -> list[int]:
        """Process ids of a replica's running processes (for tests and `describe`)."""
        return [p for s in self._replicas.get(self._rkey(replica), {}).values() if (p := s.pid) is not None]
