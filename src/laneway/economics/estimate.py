"""What a planned deployment would cost a month, for the ticket's scaling row. Pure.

The placement's replicas at their pools' prices (as `occupancy` charges them) for 730 hours,
and, against a provider's price per million tokens, how many tokens a month the same money
would buy: the volume at which self-hosting breaks even. Informational: never a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.economics.occupancy import pods_of, pool_price
from laneway.placement.model import ReplicaPlacement

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class MonthlyEstimate:
    cost: float
    currency: str
    replicas: int
    unpriced: list[str] = field(default_factory=list)

    def text(self, *, provider: str | None = None, price_per_million: float | None = None) -> str:
        if self.unpriced and not self.cost:
            return f"monthly cost not estimated: {'; '.join(self.unpriced)}"
        line = f"{self.replicas} replica(s) cost about {self.cost:,.2f} {self.currency} a month at the pools' prices"
        if self.unpriced:
            line += f" (unpriced: {'; '.join(self.unpriced)})"
        if provider and price_per_million:
            line += (
                f"; at {provider}'s {price_per_million:g} per million tokens the same money buys "
                f"{self.cost / price_per_million:,.1f} million tokens a month (the break-even volume)"
            )
        return line


def monthly_estimate(
    deployment: ModelDeployment,
    placed: Sequence[ReplicaPlacement],
    clusters: Mapping[str, InferenceCluster],
    classes: Mapping[str, InferenceClass],
) -> MonthlyEstimate:
    engines = {e.name: e for e in deployment.spec.template.spec.engines}
    hourly = 0.0
    currencies: set[str] = set()
    unpriced: list[str] = []
    for replica in placed:
        cluster = clusters.get(replica.cluster)
        for ep in replica.engines:
            spec = engines.get(ep.name)
            if cluster is None or spec is None:
                continue
            price = pool_price(cluster, ep.pool, classes)
            if isinstance(price, str):
                unpriced.append(price)
                continue
            currencies.add(price.currency)
            for member in spec.members:
                pods = pods_of(member, spec.copies)
                devices = sum(d.count for d in member.node_selector.devices) if member.node_selector else 0
                hourly += price.hourly(nodes=pods, devices=pods * devices)
    currency = "/".join(sorted(currencies)) or "USD"
    return MonthlyEstimate(hourly * HOURS_PER_MONTH, currency, len(placed), sorted(set(unpriced)))
