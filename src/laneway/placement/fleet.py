"""The fleet as the scheduler reads it: clusters, their pools and the classes those pools use.

Built once per plan from the typed kinds, so the hot loop touches small frozen records rather
than pydantic models.

Which clusters claim devices through DRA: every source but `Local`. A Kubernetes cluster
(Existing, or one a provisioner creates) gives a pod only the devices its ResourceClaims name,
and a simulated cluster stands in for one. A Local cluster runs engines as processes on this
machine: nothing is claimed, and its own CPU class (one Synthetic `cpu` device) is what an
engine runs on, so an engine met by Synthetic devices alone is placed there as usual. Clusters that look alike to a deployment (same labels, taints,
readiness, gateway and allowed engines) share a profile, and eligibility is decided once per profile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from laneway.api.conditions import is_true
from laneway.api.kinds.platform import ClassDevice, InferenceClass, InferenceCluster, NodePool
from laneway.placement.dra.matcher import device_fingerprint
from laneway.placement.engines import EnginePolicy, engine_policy

CLAIMLESS_SOURCES = frozenset({"Local", "Machines"})
"""Cluster sources whose engines hold devices without DRA claims (processes on this machine)."""


@dataclass(frozen=True)
class ClassView:
    name: str
    key: str
    devices: tuple[tuple[ClassDevice, str], ...]  # (device, fingerprint), in published order

    @cached_property
    def per_node(self) -> dict[str, int]:
        """Devices one node has, by device name: DRA and Synthetic alike, since a pod occupies both.
        Read-only: it is worked out once per class and shared."""
        return {d.name: d.count for d, _ in self.devices}


@dataclass(frozen=True)
class PoolView:
    name: str
    class_name: str
    nodes: int
    accounting: str
    cls: ClassView | None


@dataclass(frozen=True)
class TaintView:
    key: str
    value: str
    effect: str

    def describe(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass(frozen=True)
class ClusterView:
    name: str
    labels: tuple[tuple[str, str], ...]
    ready: bool
    has_gateway: bool
    taints: tuple[TaintView, ...]
    pools: tuple[PoolView, ...]
    claims_dra: bool = True
    """Whether pods get devices only through DRA claims (every source but Local)."""
    engines: EnginePolicy | None = None
    """The engines a Local cluster allows; None where the cluster does not restrict them."""

    @property
    def profile(self) -> tuple[object, ...]:
        return (self.labels, self.ready, self.has_gateway, self.taints, self.engines)

    @property
    def pools_signature(self) -> tuple[tuple[str, str], ...]:
        """What a replica's reading depends on in its cluster: each pool and its class's key."""
        return tuple((p.name, p.cls.key if p.cls else "") for p in self.pools)

    def pool(self, name: str) -> PoolView | None:
        for p in self.pools:
            if p.name == name:
                return p
        return None


def class_view(cls: InferenceClass) -> ClassView:
    devices = tuple((d, device_fingerprint(d)) for d in cls.spec.devices)
    key = hashlib.blake2b((cls.name + "|" + "|".join(f for _, f in devices)).encode(), digest_size=16).hexdigest()
    return ClassView(cls.name, key, devices)


def published_nodes(cluster: InferenceCluster, pool: NodePool) -> int:
    """The nodes the scheduler may plan onto in `pool`: for a Machines cluster, the Ready machines
    that joined it (as its status counts them; none until one joins); else the pool's own count."""
    if cluster.spec.cluster.source != "Machines" or pool.role == "System":
        return pool.published_nodes
    return next((s.nodes for s in cluster.status.gpu_pools if s.name == pool.name), 0)


def cluster_view(cluster: InferenceCluster, classes: dict[str, ClassView]) -> ClusterView:
    pools = tuple(
        PoolView(p.name, p.class_name, published_nodes(cluster, p), p.accounting, classes.get(p.class_name))
        for p in cluster.spec.node_pools
    )
    return ClusterView(
        name=cluster.name,
        labels=tuple(sorted(cluster.metadata.labels.items())),
        ready=is_true(cluster.status.conditions, "Ready"),
        has_gateway=bool(cluster.status.gateway.address),
        taints=tuple(TaintView(t.key, t.value, t.effect) for t in cluster.spec.taints),
        pools=pools,
        claims_dra=cluster.spec.cluster.source not in CLAIMLESS_SOURCES,
        engines=engine_policy(cluster),
    )


@dataclass(frozen=True)
class Fleet:
    """Every cluster (sorted by name) and class, indexed for the scheduler."""

    clusters: tuple[ClusterView, ...]
    by_name: dict[str, ClusterView]
    classes: dict[str, ClassView]
    profiles: tuple[tuple[tuple[object, ...], tuple[ClusterView, ...]], ...]
    profile_of: dict[str, int]  # cluster name -> index into profiles
    used_classes: tuple[str, ...]  # class names some pool uses, sorted

    @classmethod
    def build(cls, clusters: Sequence[InferenceCluster], classes: Sequence[InferenceClass]) -> Fleet:
        class_views = {c.name: class_view(c) for c in classes}
        return cls.of_views([cluster_view(c, class_views) for c in clusters], class_views)

    @classmethod
    def of_views(cls, cluster_views: Sequence[ClusterView], class_views: dict[str, ClassView]) -> Fleet:
        views = tuple(sorted(cluster_views, key=lambda v: v.name))
        groups: dict[tuple[object, ...], list[ClusterView]] = {}
        for v in views:
            groups.setdefault(v.profile, []).append(v)
        return cls(
            clusters=views,
            by_name={v.name: v for v in views},
            classes=class_views,
            profiles=tuple((k, tuple(g)) for k, g in groups.items()),
            profile_of={c.name: i for i, g in enumerate(groups.values()) for c in g},
            used_classes=tuple(sorted({p.class_name for v in views for p in v.pools})),
        )
