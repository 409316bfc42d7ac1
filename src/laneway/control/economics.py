"""The economics controller: keeps each ModelService's `status.economics` current.

Every 30 seconds per service it reads what `laneway economics` reads (the namespace's
endpoints and replicas, the fleet's clusters and classes) and writes the pure
`economics.report.service_economics` with a 7-day window (over its span: from when the token
totals began, see `economics.report`). A status write queues the service
again, and capacity cost grows with the clock, so it rewrites at most once an interval unless
the metered tokens moved. The gateways export these figures as Prometheus metrics.
"""

from __future__ import annotations

from collections.abc import Mapping

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelService, ServiceEconomicsFigures
from laneway.api.meta import ObjectKey, rfc3339
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.economics.capacity import Window
from laneway.economics.occupancy import parse_timestamp
from laneway.economics.report import Fleet, ServiceEconomics, service_economics

ECONOMICS_INTERVAL = 30.0
ECONOMICS_WINDOW = 7 * 86400.0


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def figures(e: ServiceEconomics, window: float) -> ServiceEconomicsFigures:
    """The status shape of one service's economics (pure)."""
    return ServiceEconomicsFigures(
        window_seconds=window,
        span_start=rfc3339(e.span.start),
        currency=e.currency,
        capacity_cost=round(e.capacity_cost, 6),
        prompt_tokens=e.self_hosted_tokens.prompt,
        completion_tokens=e.self_hosted_tokens.completion,
        cost_per_million_tokens=_r(e.cost_per_million),
        compared_with=e.compared_with,
        same_tokens_bought=_r(e.same_tokens_bought),
        bought_per_million_tokens=_r(e.bought_per_million),
        break_even_tokens_per_hour=_r(e.break_even_tokens_per_hour),
        tokens_per_hour=round(e.tokens_per_hour, 3),
        external_cost=round(e.external_cost, 6),
    )


class EconomicsController:
    name = "economics"
    kind = "ModelService"
    watches: Mapping[str, KeyMapper] = {}

    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def reconcile(self, key: ObjectKey) -> Result:
        service = self.store.find(ModelService, key)
        if service is None or service.metadata.deletion_timestamp:
            return Result()
        now = self.ctx.clock()
        fleet = Fleet(
            services=[service],
            endpoints=self.store.list(ModelEndpoint, namespace=key.namespace).items,
            replicas=self.store.list(ModelReplica, namespace=key.namespace).items,
            clusters={c.metadata.name: c for c in self.store.list(InferenceCluster).items},
            classes={c.metadata.name: c for c in self.store.list(InferenceClass).items},
        )
        desired = figures(service_economics(service, fleet, Window(now - ECONOMICS_WINDOW, now)), ECONOMICS_WINDOW)
        desired = desired.model_copy(update={"observed_at": rfc3339(now)})
        # Capacity cost grows with the clock, and every status write queues this service again:
        # rewrite at most once an interval unless the metered tokens moved.
        current = service.status.economics
        age = now - (parse_timestamp(current.observed_at) or 0.0) if current is not None else ECONOMICS_INTERVAL
        same_tokens = current is not None and (current.prompt_tokens, current.completion_tokens) == (
            desired.prompt_tokens,
            desired.completion_tokens,
        )
        if same_tokens and age < ECONOMICS_INTERVAL:
            return Result(requeue_after=ECONOMICS_INTERVAL - age)
        self.store.update_status(service.model_copy(update={"status": service.status.model_copy(update={"economics": desired})}))
        return Result(requeue_after=ECONOMICS_INTERVAL)
