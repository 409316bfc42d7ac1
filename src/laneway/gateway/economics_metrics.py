"""The economics, budgets and quality probes as Prometheus gauges on the gateway's /metrics.

Read from the routing table at scrape time (the services' `status.economics`, the budget
ledgers on the InferenceGateways), so nothing is computed on the request path and every
gateway process exports the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from laneway.gateway.table import RoutingTable


class EconomicsCollector(Collector):
    """Gauges per service (cost per million tokens, capacity cost, the same tokens bought,
    break-even rate) and per budgeted namespace (spent, limit, exhausted)."""

    def __init__(self, table: Callable[[], RoutingTable]) -> None:
        self._table = table

    def collect(self) -> Iterator[GaugeMetricFamily]:
        table = self._table()
        labels = ["namespace", "service", "currency"]
        per_million = GaugeMetricFamily(
            "laneway_service_cost_per_million_tokens", "Self-hosted capacity cost per million metered tokens.", labels=labels
        )
        capacity = GaugeMetricFamily(
            "laneway_service_capacity_cost", "Cost of the capacity the service's replicas held over the economics window.", labels=labels
        )
        bought = GaugeMetricFamily(
            "laneway_service_same_tokens_bought_cost",
            "What the service's self-hosted tokens would have cost at its Overflow/BreakGlass provider's price.",
            labels=labels,
        )
        break_even = GaugeMetricFamily(
            "laneway_service_break_even_tokens_per_hour",
            "Tokens an hour at which self-hosting costs what the compared provider would.",
            labels=["namespace", "service"],
        )
        for key, f in sorted(table.economics.items()):
            values = [key.namespace, key.name, f.currency]
            capacity.add_metric(values, f.capacity_cost)
            if f.cost_per_million_tokens is not None:
                per_million.add_metric(values, f.cost_per_million_tokens)
            if f.same_tokens_bought is not None:
                bought.add_metric(values, f.same_tokens_bought)
            if f.break_even_tokens_per_hour is not None:
                break_even.add_metric([key.namespace, key.name], f.break_even_tokens_per_hour)
        spent = GaugeMetricFamily(
            "laneway_budget_spent", "External spend of a namespace in its budget's current period.", labels=["namespace", "currency"]
        )
        limit = GaugeMetricFamily("laneway_budget_limit", "A namespace's budget for external providers.", labels=["namespace", "currency"])
        exhausted = GaugeMetricFamily(
            "laneway_budget_exhausted", "1 while the namespace's budget is spent (paid overflow stopped).", labels=["namespace"]
        )
        approached = GaugeMetricFamily(
            "laneway_budget_approached", "1 once the namespace reached its budget's warnAt share.", labels=["namespace"]
        )
        for b in table.budgets:
            spent.add_metric([b.namespace, b.currency], b.spent)
            limit.add_metric([b.namespace, b.currency], b.limit)
            exhausted.add_metric([b.namespace], 1.0 if b.exhausted else 0.0)
            approached.add_metric([b.namespace], 1.0 if b.approached else 0.0)
        pass_rate = GaugeMetricFamily(
            "laneway_quality_pass_rate", "Share of recent probe rounds an endpoint passed.", labels=["namespace", "service", "endpoint", "tier"]
        )
        failing = GaugeMetricFamily(
            "laneway_quality_failing", "1 while an endpoint's probe pass rate is below minPassRate.", labels=["namespace", "service", "endpoint", "tier"]
        )
        for key, q in sorted(table.quality.items()):
            for e in q.endpoints:
                values = [key.namespace, key.name, e.name, e.tier]
                if e.pass_rate is not None:
                    pass_rate.add_metric(values, e.pass_rate)
                failing.add_metric(values, 1.0 if e.failing else 0.0)
        yield from (per_million, capacity, bought, break_even, spent, limit, exhausted, approached, pass_rate, failing)
