"""Which machine belongs where, and which machine runs which replica: the pure half of the
Machines driver (no I/O; the store's state and the clock are passed in).

- `choose_pool`: the pool a joining machine enters, from the pool its agent names or, when it
  names none, the first of the cluster's pools whose class its discovered devices cover. A
  machine whose devices do not cover the pool's class is refused with what it has and needs.
- `pool_nodes`: how many Ready machines each pool has: the nodes the scheduler may plan onto.
- `place`: the Ready machine of the replica's pool with the most room for it (spread before
  pack, as the scheduler spreads replicas), or, for a gang (Leader and Workers), one machine
  per pod; or why none has room. A pool accounted by Node gives a machine to one replica; one
  accounted by Device shares its devices.
- `leader_addresses`: where each gang's leader answers, for the machines running its Workers.

What it does not do: it does not move a replica whose machine is Ready, and it never moves a
replica to another pool or cluster (that is the scheduler's, through a lost cluster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import (
    ClassDevice,
    InferenceClass,
    InferenceCluster,
    MachineStatus,
    NodePool,
)
from laneway.cache.state import CacheState
from laneway.drivers.local.processes import gang_key, process_id


@dataclass(frozen=True)
class JoinRefused:
    """A machine that may not join as asked; the message says what to change."""

    message: str


def _devices_summary(devices: Sequence[ClassDevice]) -> str:
    parts = []
    for d in devices:
        product = d.attributes.get("productName") or d.attributes.get("model")
        label = product.string if product is not None and product.string else d.driver
        parts.append(f"{d.count} x {label}")
    return ", ".join(parts) or "no devices"


def devices_summary(cls: InferenceClass) -> str:
    """`2 x NVIDIA H200`: what a class (a machine's discovered one, say) has, for people."""
    return _devices_summary(cls.spec.devices)


def _same_attributes(want: ClassDevice, have: ClassDevice) -> bool:
    """Whether `have` carries every string and version attribute `want` names, with its value."""
    for key, attr in want.attributes.items():
        if attr.string is None and attr.version is None:
            continue
        found = have.attributes.get(key)
        if found is None or (found.string, found.version) != (attr.string, attr.version):
            return False
    return True


def uncovered(pool_class: InferenceClass, discovered: InferenceClass) -> str:
    """Why a machine with the `discovered` devices cannot be a node of `pool_class` ("" when it can).

    Each device entry of the class needs one discovered entry of the same driver with at least
    its count, carrying the string and version attributes the class names, with their values."""
    have = devices_summary(discovered)
    for want in pool_class.spec.devices:
        candidates = [d for d in discovered.spec.devices if d.driver == want.driver]
        if not candidates:
            return f"class {pool_class.name} needs {want.count} {want.driver} device(s); the machine has {have}"
        matching = [d for d in candidates if _same_attributes(want, d)]
        if not matching:
            return (f"class {pool_class.name} needs {want.driver} devices with the attributes it names "
                    f"({', '.join(sorted(want.attributes))}); the machine has {have}")
        if max(d.count for d in matching) < want.count:
            return f"class {pool_class.name} needs {want.count} x {want.name}; the machine has {have}"
    return ""


def choose_pool(
    cluster: InferenceCluster, classes: Mapping[str, InferenceClass], discovered: InferenceClass, asked: str | None
) -> NodePool | JoinRefused:
    """The pool a machine with `discovered` devices joins in `cluster` (`asked`: its agent's `--pool`)."""
    pools = [p for p in cluster.spec.node_pools if p.role != "System"]
    names = ", ".join(p.name for p in pools) or "none"
    if not pools:
        return JoinRefused(
            f"cluster {cluster.name} declares no node pools for machines to join: add one to spec.nodePools "
            "(name, className: an InferenceClass the machines' devices cover)"
        )
    if asked is not None:
        pool = next((p for p in pools if p.name == asked), None)
        if pool is None:
            return JoinRefused(f"cluster {cluster.name} has no node pool {asked!r}; its pools: {names}")
        cls = classes.get(pool.class_name)
        if cls is None:
            return JoinRefused(f"pool {asked!r} of cluster {cluster.name} names InferenceClass {pool.class_name!r}, which does not exist; apply it")
        why = uncovered(cls, discovered)
        return JoinRefused(f"this machine cannot join pool {asked!r}: {why}") if why else pool
    reasons = []
    for pool in pools:
        cls = classes.get(pool.class_name)
        if cls is None:
            reasons.append(f"{pool.name}: class {pool.class_name!r} does not exist")
            continue
        why = uncovered(cls, discovered)
        if not why:
            return pool
        reasons.append(f"{pool.name}: {why}")
    return JoinRefused(
        f"no node pool of cluster {cluster.name} fits this machine ({devices_summary(discovered)}): "
        + "; ".join(reasons) + "; name one with --pool, or add a pool whose class these devices cover"
    )


def pool_nodes(cluster: InferenceCluster) -> dict[str, int]:
    """Ready machines per pool of the cluster (every declared pool appears, with 0 when none)."""
    counts = {p.name: 0 for p in cluster.spec.node_pools}
    for m in cluster.status.machines:
        if m.ready and m.pool in counts:
            counts[m.pool] += 1
    return counts


@dataclass(frozen=True)
class Pod:
    """One process of a replica as a machine runs it (a pod, on Kubernetes)."""

    id: str
    gang: str  # `<engine>-<copy>`: the members that share one leader
    leader: bool  # Leader or Standalone: the one that serves
    devices: int  # what it claims on its machine


def pods_of(replica: ModelReplica) -> list[Pod]:
    """Every process of the replica, with the ids and ranks the Local driver gives them."""
    out = []
    for engine in replica.spec.engines:
        for copy in range(engine.copies):
            rank = 0
            for member in engine.members:
                per_pod = sum(r.count for r in member.device_requests)
                for _ in range(member.pods):
                    out.append(Pod(process_id(engine.name, copy, member.role, rank), gang_key(engine.name, copy),
                                   member.role in ("Leader", "Standalone"), per_pod))
                    rank += 1
    return out


def is_gang(replica: ModelReplica) -> bool:
    """Whether the replica has Worker members: its pods go to several machines, one each."""
    return any(m.role == "Worker" for e in replica.spec.engines for m in e.members)


def pool_of(replica: ModelReplica) -> str:
    """The pool the scheduler pinned the replica's members to ("" when it named none)."""
    for engine in replica.spec.engines:
        for member in engine.members:
            if member.node_pool_name:
                return member.node_pool_name
    return ""


Placement = dict[str, list[Pod]]
"""Machine name -> the pods of one replica it runs."""


def place(replica: ModelReplica, cluster: InferenceCluster) -> Placement | JoinRefused:
    """Which Ready machines of the replica's pool run it, or why none can.

    A replica without Workers runs on one machine: the one with the most room (by name on a
    tie). A gang (Leader and Workers) gets one machine per pod, as LeaderWorkerSet puts each
    pod on its own node, taking the machines with the most room first; on a pool accounted by
    Device, pods that find no machine of their own share one with room. A machine's room is
    its devices minus what its other assignments claim; on a pool accounted by Node, a machine
    running anything else has none."""
    pool_name = pool_of(replica)
    pool = next((p for p in cluster.spec.node_pools if p.name == pool_name), None)
    machines = [m for m in cluster.status.machines if m.pool == pool_name]
    if pool is None or not machines:
        return JoinRefused(f"no machine has joined pool {pool_name or '(none)'} of cluster {cluster.name}")
    ready = [m for m in machines if m.ready]
    if not ready:
        return JoinRefused(f"no machine of pool {pool_name} is Ready ({', '.join(m.name for m in machines)} NotReady)")
    uid = replica.metadata.uid or ""
    shared = pool.accounting == "Device"
    room: dict[str, int] = {}
    for m in ready:
        others = [a for a in m.assignments if a.uid != uid]
        if shared:
            room[m.name] = m.device_count - sum(a.devices for a in others)
        elif not others:
            room[m.name] = max(m.device_count, 1)
    pods = pods_of(replica)
    if not is_gang(replica):
        wanted = sum(p.devices for p in pods)
        fits = [(free, name) for name, free in room.items() if free >= wanted]
        if not fits:
            return JoinRefused(f"no Ready machine of pool {pool_name} has room for {wanted} more device(s)")
        return {min(fits, key=lambda f: (-f[0], f[1]))[1]: pods}
    placed: Placement = {}
    for pod in pods:
        own = [(free, name) for name, free in room.items() if name not in placed and free >= pod.devices]
        shareable = [(free, name) for name, free in room.items() if shared and free >= pod.devices]
        choices = own or shareable
        if not choices:
            return JoinRefused(
                f"a gang of {len(pods)} pods needs {len(pods)} Ready machines of pool {pool_name} with room "
                f"({pod.devices} device(s) each); {len(room)} have room now"
            )
        name = min(choices, key=lambda f: (-f[0], f[1]))[1]
        placed.setdefault(name, []).append(pod)
        room[name] -= pod.devices
    return placed


def leader_addresses(cluster: InferenceCluster, uid: str) -> dict[str, str]:
    """`host:port` of each gang's leader of the replica, from its machine's last report."""
    out: dict[str, str] = {}
    for m in cluster.status.machines:
        for a in m.assignments:
            if a.uid != uid:
                continue
            report = next((r for r in m.reports if r.uid == uid), None)
            for address in report.addresses if report is not None else []:
                netloc = address.url.split("://", 1)[-1].rstrip("/")
                out[gang_key(address.engine, address.engine_copy)] = netloc
    return out


def holders(cluster: InferenceCluster, uid: str) -> list[MachineStatus]:
    """The machines that run (a part of) the replica with this uid."""
    return [m for m in cluster.status.machines if any(a.uid == uid for a in m.assignments)]


def machines_cache_state(cluster: InferenceCluster, uid: str) -> CacheState:
    """A cache's state on a Machines cluster: Ready once every Ready machine has it; Failed as
    soon as one cannot stage it (naming the machine); else Hydrating or Pending."""
    ready = [m for m in cluster.status.machines if m.ready]
    if not ready:
        return CacheState("Pending", "no machine of the cluster is Ready to stage it")
    reports = {m.name: next((c for c in m.caches if c.uid == uid), None) for m in ready}
    failed = [(name, r) for name, r in reports.items() if r is not None and r.state == "Failed"]
    if failed:
        name, r = failed[0]
        return CacheState("Failed", f"on machine {name}: {r.message}")
    done = [r for r in reports.values() if r is not None and r.state == "Ready"]
    if len(done) == len(ready):
        return CacheState("Ready", f"on {len(done)} machine(s)", max((r.bytes or 0) for r in done))
    waiting = sorted(name for name, r in reports.items() if r is None or r.state != "Ready")
    staged = sum((r.bytes or 0) for r in reports.values() if r is not None and r.state == "Hydrating")
    state: Literal["Hydrating", "Pending"] = "Hydrating" if any(
        r is not None and r.state in ("Hydrating", "Ready") for r in reports.values()) else "Pending"
    return CacheState(state, f"{len(done)} of {len(ready)} machine(s) have it; waiting for {', '.join(waiting)}", staged or None)
