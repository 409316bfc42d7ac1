"""What provisioning a cloud InferenceCluster would create, and what it would cost per hour.

Pure: it reads the cluster and the InferenceClasses its pools name, and calls nothing, so
`laneway cluster plan` can show the spend before anything is applied. A provisioner builds
from the same plan, so what is printed is what gets created.

Each GPU pool takes its machine (EKS instance type, GKE machine type, ...) from its class's
provisioning block, unless the pool names `instanceType` itself; a System pool must name
its own. The hourly price is the class's `pricing.perNodeHour` times the node count (and times
`maxNodeCount` for the most the pool may cost when it autoscales).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from laneway.api.kinds.platform import InferenceClass, InferenceCluster, NodePool

PROVISIONED_SOURCES = ("EKS", "GKE", "AKS", "Nebius", "Vultr")
"""Cluster sources a provisioner creates (the others exist already or need no cloud)."""

PROVIDER_BLOCK = {"EKS": "eks", "GKE": "gke", "AKS": "aks", "Nebius": "nebius", "Vultr": "vultr"}

MACHINE_FIELD = {"EKS": "instanceType", "GKE": "machineType", "AKS": "vmSize", "Nebius": "preset", "Vultr": "plan"}
"""The field of a class's provider block that names the machine a node runs on."""


class PlanError(ValueError):
    """The cluster cannot be planned; the message says which pool or class and what to fix."""


@dataclass(frozen=True)
class PoolPlan:
    """One node pool (EKS managed node group, GKE node pool) that would be created."""

    name: str
    role: str
    class_name: str
    machine: str
    accelerator: str
    accelerators_per_node: int
    node_count: int
    min_node_count: int
    max_node_count: int
    per_node_hour: float | None
    currency: str

    @property
    def hourly(self) -> float | None:
        """What the pool costs per hour at its declared node count (None: the class has no price)."""
        return None if self.per_node_hour is None else self.per_node_hour * self.node_count

    @property
    def hourly_at_max(self) -> float | None:
        """What the pool costs per hour when it has scaled to its ceiling."""
        return None if self.per_node_hour is None else self.per_node_hour * self.max_node_count


@dataclass(frozen=True)
class ClusterPlan:
    """Everything provisioning one InferenceCluster would create."""

    cluster: str
    provider: str
    region: str
    pools: tuple[PoolPlan, ...]

    @property
    def currency(self) -> str:
        currencies = {p.currency for p in self.pools if p.per_node_hour is not None}
        return currencies.pop() if len(currencies) == 1 else "USD"

    @property
    def hourly(self) -> float | None:
        """The cluster's hourly price at declared counts; None when a pool has no price."""
        prices = [p.hourly for p in self.pools]
        return None if any(p is None for p in prices) else sum(p for p in prices if p is not None)

    @property
    def hourly_at_max(self) -> float | None:
        prices = [p.hourly_at_max for p in self.pools]
        return None if any(p is None for p in prices) else sum(p for p in prices if p is not None)

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Pools whose price is unknown (System pools, classes with no pricing)."""
        return tuple(p.name for p in self.pools if p.per_node_hour is None)


def provider_block(cluster: InferenceCluster) -> dict[str, object]:
    """The cluster's provider block as written (`eks: {region: ...}`)."""
    source = cluster.spec.cluster.source
    block = (cluster.spec.cluster.model_extra or {}).get(PROVIDER_BLOCK.get(source, ""), None)
    return dict(block) if isinstance(block, dict) else {}


def _class_block(klass: InferenceClass, provider: str) -> dict[str, object]:
    provisioning = klass.spec.provisioning
    if provisioning is None:
        raise PlanError(
            f"InferenceClass {klass.name} has no 'provisioning' block; add provisioning: {{provider: {provider}, "
            f"{PROVIDER_BLOCK[provider]}: {{{MACHINE_FIELD[provider]}: ...}}}} or set the pool's instanceType"
        )
    if provisioning.provider != provider:
        raise PlanError(
            f"InferenceClass {klass.name} is provisioned on {provisioning.provider}, not {provider}: "
            f"name a class whose provisioning.provider is {provider}"
        )
    block = (provisioning.model_extra or {}).get(PROVIDER_BLOCK[provider])
    return dict(block) if isinstance(block, dict) else {}


def _accelerator(block: Mapping[str, object]) -> tuple[str, int]:
    accelerator = block.get("accelerator")
    if not isinstance(accelerator, dict):
        return "", 0
    kind = accelerator.get("type")
    count = accelerator.get("count", 1)
    return (kind if isinstance(kind, str) else "", count if isinstance(count, int) and not isinstance(count, bool) else 1)


def plan_pool(pool: NodePool, provider: str, classes: Mapping[str, InferenceClass], cluster: str) -> PoolPlan:
    """The pool as it would be created: its machine, accelerators, counts and price."""
    where = f"cluster {cluster}, pool {pool.name}"
    block: dict[str, object] = {}
    klass = classes.get(pool.class_name) if pool.class_name else None
    if pool.class_name and klass is None:
        raise PlanError(f"{where}: no InferenceClass named {pool.class_name!r}; pass its manifest with -f or apply it first")
    if klass is not None and (pool.instance_type is None or klass.spec.provisioning is not None):
        block = _class_block(klass, provider)
    machine = pool.instance_type or block.get(MACHINE_FIELD[provider])
    if not isinstance(machine, str) or not machine:
        field = f"provisioning.{PROVIDER_BLOCK[provider]}.{MACHINE_FIELD[provider]}"
        raise PlanError(
            f"{where}: no machine to create nodes on; set the pool's instanceType"
            + (f" or {field} in InferenceClass {pool.class_name}" if pool.class_name else "")
        )
    accelerator, per_node = _accelerator(block)
    pricing = klass.spec.pricing if klass is not None else None
    low = pool.min_node_count if pool.min_node_count is not None else pool.node_count
    high = pool.max_node_count if pool.max_node_count is not None else pool.node_count
    return PoolPlan(
        name=pool.name,
        role=pool.role,
        class_name=pool.class_name,
        machine=machine,
        accelerator=accelerator,
        accelerators_per_node=per_node,
        node_count=pool.node_count,
        min_node_count=min(low, pool.node_count),
        max_node_count=max(high, pool.node_count),
        per_node_hour=pricing.per_node_hour if pricing is not None else None,
        currency=pricing.currency if pricing is not None else "USD",
    )


def plan_cluster(cluster: InferenceCluster, classes: Mapping[str, InferenceClass]) -> ClusterPlan:
    """What provisioning `cluster` would create. Raises PlanError naming the pool and the fix."""
    source = cluster.spec.cluster.source
    if source not in PROVISIONED_SOURCES:
        raise PlanError(f"cluster {cluster.name} has source {source}: laneway provisions nothing for it (only {', '.join(PROVISIONED_SOURCES)})")
    block = provider_block(cluster)
    region = block.get("region") or block.get("location") or ""
    if not cluster.spec.node_pools:
        raise PlanError(f"cluster {cluster.name} has no nodePools; add at least one pool to provision")
    pools = tuple(plan_pool(p, source, classes, cluster.name) for p in cluster.spec.node_pools)
    return ClusterPlan(cluster=cluster.name, provider=source, region=str(region), pools=pools)
