"""Existing ModelReplicas as scheduler inputs: whose they are, where they sit, what they use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from laneway.api.conditions import is_true
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.labels import (
    DEPLOYMENT_LABEL,
    REPLACES_ANNOTATION,
    REPLICA_INDEX_LABEL,
)
from laneway.api.meta import ObjectKey
from laneway.placement.capacity import PodDemand
from laneway.placement.dra.matcher import DEFAULT_MATCHER, DeviceMatcher
from laneway.placement.fleet import Fleet
from laneway.placement.matching import EngineFit, EngineSpec, match_engine
from laneway.placement.model import DeviceClaim, EnginePlacement, MemberPlacement

INDEX_LABEL = REPLICA_INDEX_LABEL


@dataclass(frozen=True)
class ExistingReplica:
    name: str
    deployment: ObjectKey | None
    index: int | None
    cluster: str
    engines: tuple[EnginePlacement, ...]
    usage: tuple[tuple[str, tuple[PodDemand, ...]], ...]  # (pool, pods) it occupies
    ready: bool = False
    terminating: bool = False  # being deleted: still holds its capacity, no longer one of the deployment's replicas
    replaces: str | None = None  # the replica on a lost cluster this one stands in for

    def pool_of(self, engine: str) -> str | None:
        for e in self.engines:
            if e.name == engine:
                return e.pool
        return None


def _index(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    return int(text)


def existing_replica(replica: ModelReplica, fleet: Fleet, matcher: DeviceMatcher = DEFAULT_MATCHER) -> ExistingReplica:
    """Read a replica's pins and what it occupies on its pinned pools.

    DRA devices are charged by the claims the replica holds; a claim whose device the pool's
    class no longer publishes still charges a node, so nothing overcommits. Synthetic devices
    are never claimed, so they are charged by matching the replica's own device requests on
    the pool's class, as when it was placed; a request that no longer matches any device of
    the class charges a whole node."""
    labels = replica.metadata.labels
    deployment = labels.get(DEPLOYMENT_LABEL)
    cluster = fleet.by_name.get(replica.spec.cluster_name)
    engines = []
    usage: list[tuple[str, tuple[PodDemand, ...]]] = []
    for engine in replica.spec.engines:
        pools = [m.node_pool_name for m in engine.members if m.node_pool_name]
        pool_name = pools[0] if pools else ""
        pool = cluster.pool(pool_name) if cluster else None
        by_class: dict[str, list[str]] = {}
        per_node: dict[str, int] = {}
        synthetic: set[str] = set()
        fit = None
        if pool is not None and pool.cls is not None:
            per_node = dict(pool.cls.per_node)
            for d, _ in pool.cls.devices:
                if d.claim == "DRA" and d.device_class_name:
                    by_class.setdefault(d.device_class_name, []).append(d.name)
                elif d.claim != "DRA":
                    synthetic.add(d.name)
            if synthetic:
                fit = match_engine(EngineSpec.of(engine), pool.cls, matcher)
        members = []
        pods: list[PodDemand] = []
        for mi, m in enumerate(engine.members):
            claims = tuple(DeviceClaim(c.name, c.device_class_name, c.count, tuple(s.cel for s in c.selectors)) for c in m.device_requests)
            members.append(MemberPlacement(m.role, m.node_pool_name or pool_name, claims))
            demand: dict[str, int] = {}
            left = dict(per_node)
            for c in claims:
                device = _entry_for(c, by_class, left)
                demand[device] = demand.get(device, 0) + c.count
            if isinstance(fit, EngineFit):
                for device, n in fit.members[mi].demand.items():
                    if device in synthetic:
                        demand[device] = demand.get(device, 0) + n
            else:
                claimed = {c.name for c in claims}
                for request in m.node_selector.devices if m.node_selector else []:
                    if request.name not in claimed:
                        device = f"?{request.name}"
                        demand[device] = demand.get(device, 0) + request.count
            pods.extend([demand] * (m.pods * engine.copies))
        engines.append(EnginePlacement(engine.name, pool_name, tuple(members)))
        usage.append((pool_name, tuple(pods)))
    return ExistingReplica(
        name=replica.name,
        deployment=ObjectKey(replica.namespace, deployment) if deployment else None,
        index=_index(labels.get(INDEX_LABEL)),
        cluster=replica.spec.cluster_name,
        engines=tuple(engines),
        usage=tuple(usage),
        ready=is_true(replica.status.conditions, "Ready"),
        terminating=replica.metadata.deletion_timestamp is not None,
        replaces=replica.metadata.annotations.get(REPLACES_ANNOTATION) or None,
    )


def _entry_for(claim: DeviceClaim, by_class: Mapping[str, list[str]], left: dict[str, int]) -> str:
    """The class entry a running pod's claim is charged to, as placement matched it: the first
    entry of the claim's device class with room left after the pod's earlier claims (a class
    may publish one node's GPUs as several entries of one device class). `left` is what the
    pod has not claimed yet of each entry, and is charged here."""
    entries = by_class.get(claim.device_class_name)
    if not entries:
        return f"?{claim.device_class_name}"
    device = next((name for name in entries if left.get(name, 0) >= claim.count), entries[0])
    left[device] = left.get(device, 0) - claim.count
    return device
