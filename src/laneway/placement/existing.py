"""Existing ModelReplicas as scheduler inputs: whose they are, where they sit, what they use."""

from __future__ import annotations

from dataclasses import dataclass

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.meta import LABEL_PREFIX, ObjectKey
from laneway.placement.capacity import PodDemand
from laneway.placement.fleet import Fleet
from laneway.placement.model import DeviceClaim, EnginePlacement, MemberPlacement

DEPLOYMENT_LABEL = LABEL_PREFIX + "deployment"
INDEX_LABEL = LABEL_PREFIX + "replica-index"


@dataclass(frozen=True)
class ExistingReplica:
    name: str
    deployment: ObjectKey | None
    index: int | None
    cluster: str
    engines: tuple[EnginePlacement, ...]
    usage: tuple[tuple[str, tuple[PodDemand, ...]], ...]  # (pool, pods) it occupies

    def pool_of(self, engine: str) -> str | None:
        for e in self.engines:
            if e.name == engine:
                return e.pool
        return None


def _index(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    return int(text)


def existing_replica(replica: ModelReplica, fleet: Fleet) -> ExistingReplica:
    """Read a replica's pins. Pods are charged by the claims it holds on its pinned pools; a claim
    whose device the pool's class no longer publishes still charges a node, so nothing overcommits."""
    labels = replica.metadata.labels
    deployment = labels.get(DEPLOYMENT_LABEL)
    cluster = fleet.by_name.get(replica.spec.cluster_name)
    engines = []
    usage: list[tuple[str, tuple[PodDemand, ...]]] = []
    for engine in replica.spec.engines:
        pools = [m.node_pool_name for m in engine.members if m.node_pool_name]
        pool_name = pools[0] if pools else ""
        pool = cluster.pool(pool_name) if cluster else None
        by_class = {}
        if pool is not None and pool.cls is not None:
            for d, _ in pool.cls.devices:
                if d.claim == "DRA" and d.device_class_name:
                    by_class.setdefault(d.device_class_name, d.name)
        members = []
        pods: list[PodDemand] = []
        for m in engine.members:
            claims = tuple(DeviceClaim(c.name, c.device_class_name, c.count, tuple(s.cel for s in c.selectors)) for c in m.device_requests)
            members.append(MemberPlacement(m.role, m.node_pool_name or pool_name, claims))
            demand: dict[str, int] = {}
            for c in claims:
                device = by_class.get(c.device_class_name, f"?{c.device_class_name}")
                demand[device] = demand.get(device, 0) + c.count
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
    )
