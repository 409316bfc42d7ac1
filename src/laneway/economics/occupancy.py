"""What each replica holds: its pods' nodes and claimed devices on its pinned pools, from its
creation until its deletion. Pure: replicas, clusters and classes in, `Holding`s out.

A Standalone or Leader member is one pod, a Worker member `worker.nodes` pods, each times the
engine's `copies`; a pod occupies one node and the devices it claimed (or, for Synthetic
devices, which are never claimed, the devices its node selector asked for). A replica with no creation time (never stored) or a
pool whose class has no `pricing` holds nothing priced: it is reported in `unpriced`, never
silently counted as free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from laneway.api.kinds.deployment import Member, ModelReplica, ReplicaMember
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.economics.capacity import Holding, PoolPrice


@dataclass(frozen=True)
class Occupancy:
    holdings: list[Holding] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    """Why a replica's pool carries no price ("replica r1: pool a100 of cluster c1 (class x) has no pricing")."""


def parse_timestamp(text: str | None) -> float | None:
    """A stored RFC 3339 timestamp in seconds since the epoch; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def pods_of(member: Member, copies: int) -> int:
    nodes = (
        member.worker.nodes
        if member.role == "Worker" and member.worker is not None
        else 1
    )
    return nodes * copies


def _devices_per_pod(member: ReplicaMember) -> int:
    """The devices one pod holds: those it claimed (DRA), else those its node selector asked
    for (Synthetic devices are counted by placement but never claimed)."""
    if member.device_requests:
        return sum(d.count for d in member.device_requests)
    return sum(d.count for d in member.node_selector.devices) if member.node_selector else 0


def pool_price(
    cluster: InferenceCluster, pool_name: str, classes: Mapping[str, InferenceClass]
) -> PoolPrice | str:
    pool = next((p for p in cluster.spec.node_pools if p.name == pool_name), None)
    if pool is None:
        return f"pool {pool_name} is no longer in cluster {cluster.metadata.name}"
    cls = classes.get(pool.class_name)
    if cls is None or cls.spec.pricing is None:
        return f"pool {pool_name} of cluster {cluster.metadata.name} (class {pool.class_name or 'none'}) has no pricing"
    pricing = cls.spec.pricing
    return PoolPrice(
        per_node_hour=pricing.per_node_hour,
        per_device_hour=pricing.per_device_hour,
        currency=pricing.currency,
        accounting=pool.accounting,
        devices_per_node=sum(d.count for d in cls.spec.devices),
    )


def occupancy(
    replicas: Sequence[ModelReplica],
    clusters: Mapping[str, InferenceCluster],
    classes: Mapping[str, InferenceClass],
) -> Occupancy:
    """The holdings of `replicas` (live ones, and deleted ones the caller still knows of)."""
    out = Occupancy()
    for replica in replicas:
        name = replica.metadata.name
        start = parse_timestamp(replica.metadata.creation_timestamp)
        if start is None:
            out.unpriced.append(f"replica {name}: no creation time")
            continue
        end = parse_timestamp(replica.metadata.deletion_timestamp)
        cluster = clusters.get(replica.spec.cluster_name)
        if cluster is None:
            out.unpriced.append(
                f"replica {name}: cluster {replica.spec.cluster_name} is not in the fleet"
            )
            continue
        for engine in replica.spec.engines:
            for member in engine.members:
                if member.node_pool_name is None:
                    out.unpriced.append(
                        f"replica {name}: engine {engine.name} is pinned to no pool"
                    )
                    continue
                price = pool_price(cluster, member.node_pool_name, classes)
                if isinstance(price, str):
                    out.unpriced.append(f"replica {name}: {price}")
                    continue
                pods = pods_of(member, engine.copies)
                devices = pods * _devices_per_pod(member)
                out.holdings.append(
                    Holding(
                        replica=name,
                        pool=f"{cluster.metadata.name}/{member.node_pool_name}",
                        nodes=pods,
                        devices=devices,
                        start=start,
                        end=end,
                        price=price,
                    )
                )
    return out
