"""MachinesDriver: the Driver for `cluster.source: Machines`, machines that run `laneway agent`.

The scheduler pins a replica to a cluster and a pool; this driver gives it one machine of that
pool, or one machine per pod for a gang (`membership.place`), and records the choice in the cluster's status, where the
machine's agent reads it with its next heartbeat, runs the replica with the Local driver's
supervision and confinement, and reports its engines back. Observing a replica reads that
report: its endpoints are the machine's address and the engines' ports.

A machine that misses its heartbeats for `heartbeatGracePeriod` is NotReady: its replicas
observe as not Ready at once (their endpoints leave the routing table), and the next apply
gives each to another Ready machine of the pool with room. When the machine comes back, its
heartbeat answer no longer lists them, and its agent stops them. A cluster with no Ready
machine is not Ready, and after its own grace period is lost like any other cluster. A
control plane that has just started waits one grace period before it judges a machine
NotReady: the agents beat on while it was away.

Caches: `apply_cache` orders a ModelCache staged on every machine of the cluster; each agent
stages it on its own disk with the Local driver's cache code (under the fleet's egress policy,
and the cluster's `cacheRoots` on the machine) and reports how far it is; the cache is Ready on
the cluster once every Ready machine has it. A cache that needs a credential is not staged on
machines: Secrets never travel to an agent.

Everything lives in the store (`book.py`), so any control-plane process may run this driver.
"""

from __future__ import annotations

import asyncio
import time

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, MachineAssignment, MachineCacheOrder, MachineStatus
from laneway.cache.sources import credential_ref
from laneway.cache.state import CacheState
from laneway.drivers.base import MemberObservation, ReplicaObservation, ServingAddress
from laneway.drivers.machines.book import RETRIES, ClusterGone, Edit, edit_machines, machines_cluster, refresh_readiness
from laneway.drivers.machines.membership import (
    JoinRefused,
    holders,
    is_gang,
    leader_addresses,
    machines_cache_state,
    place,
    pool_nodes,
)
from laneway.egress.policy import EgressPolicy
from laneway.store.base import Conflict, Store


class MachinesDriver:
    observe_interval: float | None = 2.0
    health_interval: float | None = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._unplaced: dict[str, str] = {}  # replica uid -> why no machine runs it
        self._since = time.time()  # when this process began watching heartbeats

    def starting_for(self, replica: ModelReplica) -> float | None:
        return None

    def _assign(self, replica: ModelReplica, cluster_name: str) -> None:
        uid = replica.metadata.uid or ""

        def edit(cluster: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus] | None:
            current = holders(cluster, uid)
            if current and all(m.ready for m in current):
                leaders = leader_addresses(cluster, uid)
                for m in machines:  # workers elsewhere learn where their leader answers
                    for a in m.assignments:
                        if a.uid == uid and a.processes:
                            a.leader_addresses = leaders
                return machines
            choice = place(replica, cluster)
            if isinstance(choice, JoinRefused):
                self._unplaced[uid] = choice.message
                return None
            self._unplaced.pop(uid, None)
            gang = is_gang(replica)
            for m in machines:
                m.assignments = [a for a in m.assignments if a.uid != uid]
                m.reports = [r for r in m.reports if r.uid != uid]
                pods = choice.get(m.name)
                if pods:
                    m.assignments.append(MachineAssignment(
                        namespace=replica.namespace, name=replica.name, uid=uid, devices=sum(p.devices for p in pods),
                        processes=[p.id for p in pods] if gang else []))
            return machines

        edit_machines(self.store, cluster_name, edit)

    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        try:
            await asyncio.to_thread(self._assign, replica, cluster.name)
        except ClusterGone:
            return

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        uid = replica.metadata.uid or ""
        try:
            cluster = await asyncio.to_thread(machines_cluster, self.store, replica.spec.cluster_name)
        except ClusterGone as e:
            return ReplicaObservation(False, "ClusterNotFound", str(e))
        running_on = holders(cluster, uid)
        if not running_on:
            why = self._unplaced.get(uid, "no machine has been given this replica yet")
            return ReplicaObservation(False, "NoMachine", why)
        names = ", ".join(m.name for m in running_on)
        lost = [m for m in running_on if not m.ready]
        if lost:
            return ReplicaObservation(False, "MachineNotReady", f"machine {lost[0].name}: {lost[0].message}")
        reports = [r for m in running_on for r in m.reports if r.uid == uid]
        addresses = tuple(ServingAddress(engine=a.engine, copy=a.engine_copy, url=a.url, ready=a.ready, models=tuple(a.models))
                          for r in reports for a in r.addresses)
        members = tuple(MemberObservation(id=m.id, engine=m.engine, phase=m.phase, ready=m.ready, restarts=m.restarts)
                        for r in reports for m in r.members)
        if len(reports) < len(running_on):
            waiting = [m.name for m in running_on if not any(r.uid == uid for r in m.reports)]
            return ReplicaObservation(False, "EnginesStarting", f"given to machine {', '.join(waiting)}; waiting for its agent to start it",
                                      (), addresses)
        not_ready = [r for r in reports if not r.ready]
        if not_ready:
            r = not_ready[0]
            return ReplicaObservation(False, r.reason or "EnginesStarting", f"on machine {names}: {r.message}", members, addresses)
        return ReplicaObservation(True, "EnginesReady", f"on machine {names}: {reports[0].message}", members, addresses)

    async def teardown(self, replica: ModelReplica) -> None:
        uid = replica.metadata.uid or ""
        self._unplaced.pop(uid, None)

        def edit(_c: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus]:
            for m in machines:
                m.assignments = [a for a in m.assignments if a.uid != uid]
                m.reports = [r for r in m.reports if r.uid != uid]
            return machines

        try:
            await asyncio.to_thread(edit_machines, self.store, replica.spec.cluster_name, edit)
        except ClusterGone:
            return

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        try:
            fresh = await asyncio.to_thread(refresh_readiness, self.store, cluster.name, watching_since=self._since)
        except ClusterGone as e:
            return False, str(e)
        machines = fresh.status.machines
        ready = [m.name for m in machines if m.ready]
        if not machines:
            return False, "no machine has joined yet: mint a join token (laneway cluster join-token) and start laneway agent"
        if not ready:
            return False, f"no machine is Ready ({', '.join(m.name for m in machines)} missed their heartbeats)"
        return True, f"{len(ready)} of {len(machines)} machine(s) Ready"

    async def pool_nodes(self, cluster: InferenceCluster) -> dict[str, int]:
        try:
            fresh = await asyncio.to_thread(machines_cluster, self.store, cluster.name)
        except ClusterGone:
            return {}
        return pool_nodes(fresh)

    # -- CacheStager: every machine stages the cache on its own disk, through its agent --------

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None:
        """Order the cache staged on every machine of the cluster. The fleet's egress policy goes
        with the order (agents read it from the gateways); a credential does not: Secrets never
        travel to a machine, so a cache that needs one is not staged on machines."""
        if credential_ref(cache.spec) is not None:
            return
        order = MachineCacheOrder(namespace=cache.namespace, name=cache.name, uid=cache.metadata.uid or "")

        def edit(current: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus] | None:
            if any(o.uid == order.uid for o in current.status.machine_caches):
                return None
            current.status.machine_caches = [*current.status.machine_caches, order]
            return machines

        await asyncio.to_thread(self._edit_orders, cluster.name, edit)

    def _edit_orders(self, name: str, edit: Edit) -> None:
        """`edit_machines`, storing the cache orders the edit changed along with the machines."""
        for _ in range(RETRIES):
            cluster = machines_cluster(self.store, name)
            before = [o.wire() for o in cluster.status.machine_caches]
            if edit(cluster, [m.model_copy(deep=True) for m in cluster.status.machines]) is None:
                return
            if [o.wire() for o in cluster.status.machine_caches] == before:
                return
            try:
                self.store.update_status(cluster)
                return
            except Conflict:
                continue

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        if credential_ref(cache.spec) is not None:
            return CacheState("Failed", "NoCredentialOnMachines: a cache that needs a credential Secret is not staged on "
                                        "machines (Secrets never travel to an agent); use a source without one, or another cluster")
        try:
            fresh = await asyncio.to_thread(machines_cluster, self.store, cluster.name)
        except ClusterGone as e:
            return CacheState("Failed", str(e))
        return machines_cache_state(fresh, cache.metadata.uid or "")

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        uid = cache.metadata.uid or ""

        def edit(current: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus] | None:
            current.status.machine_caches = [o for o in current.status.machine_caches if o.uid != uid]
            return machines

        try:
            await asyncio.to_thread(self._edit_orders, cluster.name, edit)
        except ClusterGone:
            return

    async def close(self) -> None:
        self._unplaced.clear()
