"""Where self-hosting breaks even with a provider. Pure.

Self-hosted capacity costs the same per hour whatever flows through it; a provider charges per
token. They cost the same at `cost_per_hour / price_per_million` million tokens an hour: more
traffic and self-hosting is cheaper. Against the rate the replicas can serve, that rate is the
break-even utilisation; above 1 the capacity can never earn its keep at that price.
"""

from __future__ import annotations

from laneway.economics.tokens import MILLION


def break_even_tokens_per_hour(
    *, cost_per_hour: float, price_per_million: float
) -> float | None:
    """Tokens an hour at which capacity costing `cost_per_hour` matches the provider's
    `price_per_million`; None when the provider is free (self-hosting never breaks even)."""
    if price_per_million <= 0:
        return None
    return cost_per_hour / price_per_million * MILLION


def break_even_utilisation(
    *, cost_per_hour: float, price_per_million: float, capacity_tokens_per_hour: float
) -> float | None:
    """The share of `capacity_tokens_per_hour` that must be used for self-hosting to cost what
    the provider would; None when the provider is free or the capacity serves nothing."""
    rate = break_even_tokens_per_hour(
        cost_per_hour=cost_per_hour, price_per_million=price_per_million
    )
    if rate is None or capacity_tokens_per_hour <= 0:
        return None
    return rate / capacity_tokens_per_hour
