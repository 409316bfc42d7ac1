"""The budget ledger: what each namespace spent on priced external endpoints this period. Pure.

Each gateway reports lifetime token counts per endpoint in its own `status.traffic` entry,
from `since` (its start). The ledger remembers, per gateway, service and endpoint, the totals
it already counted (`seen`), and adds only the growth at the endpoint's price: summing
gateways counts each request once, and reading the same totals twice adds nothing. A gateway
that restarted (a new `since`) starts again from zero, so its new counts are all new. At the
end of a period the spend starts again at zero and the totals seen so far stay seen.

What it does not do: count tokens a gateway metered but had not yet written to the status when
it stopped (at most one status interval), or price endpoints without a `pricing`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import Budget, BudgetStatus, SeenTokens
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import rfc3339
from laneway.economics.occupancy import parse_timestamp
from laneway.economics.tokens import TokenPrice, Tokens, token_cost
from laneway.gateway.weights import placed_by_laneway


def _price(endpoint: ModelEndpoint) -> TokenPrice | None:
    p = endpoint.spec.pricing
    if p is None or placed_by_laneway(endpoint):
        return None
    return TokenPrice(p.per_million_input_tokens, p.per_million_output_tokens, p.currency)


def _period_start(previous: BudgetStatus | None, period: float, now: float) -> tuple[float, bool]:
    """The current period's start, and whether a new period began since `previous`."""
    start = parse_timestamp(previous.period_start) if previous is not None else None
    if start is None or start > now:
        return now, previous is not None
    if now < start + period:
        return start, False
    return start + ((now - start) // period) * period, True


def ledger(
    budget: Budget,
    previous: BudgetStatus | None,
    services: Sequence[ModelService],
    endpoints: Mapping[str, ModelEndpoint],
    *,
    now: float,
) -> BudgetStatus:
    """The budget's status after reading the services' current token counts. `services` and
    `endpoints` (by name) are those of the budget's namespace."""
    start, new_period = _period_start(previous, parse_duration(budget.period), now)
    spent = 0.0 if new_period or previous is None else previous.spent
    seen = dict(previous.seen) if previous is not None else {}
    for service in services:
        for entry in service.status.traffic or []:
            for name, counted in (entry.tokens or {}).items():
                endpoint = endpoints.get(name)
                price = _price(endpoint) if endpoint is not None else None
                if price is None or price.currency != budget.currency:
                    continue
                key = f"{entry.gateway}/{service.metadata.name}/{name}"
                before = seen.get(key)
                base = Tokens(before.prompt, before.completion) if before and before.since == entry.since else Tokens()
                grown = Tokens(max(0, counted.prompt - base.prompt), max(0, counted.completion - base.completion))
                spent += token_cost(grown, price)
                seen[key] = SeenTokens(since=entry.since, prompt=counted.prompt, completion=counted.completion)
    return BudgetStatus(
        namespace=budget.namespace,
        period_start=rfc3339(start),
        spent=spent,
        limit=budget.limit,
        currency=budget.currency,
        approached=spent >= budget.warn_at * budget.limit,
        exhausted=spent >= budget.limit,
        seen=dict(sorted(seen.items())),
    )
