"""What a restarted gateway carries over: the token totals its previous run left in the store.

Economics (cost per million tokens over a window) and budgets read each gateway's entry in a
ModelService's `status.traffic`: token totals per endpoint since `since`. A gateway's entry is
keyed by its identity (host and port), so a gateway restarted on the same port replaces its
own entry; without a carry-over it would start again from zero with a new `since`, and every
figure over a window that began before the restart would lose what was metered before it.

So on start, before it listens, a gateway reads its own entries (`carried`, pure) and its
meter continues from them (`Meter.carry`), keeping the old `since`. The budget ledger sees the
same `since` and only growth, so nothing is counted twice. What is lost: tokens metered after
the last status write of a gateway that died without its final write (a clean stop writes
them); at most one status interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey
from laneway.economics.occupancy import parse_timestamp
from laneway.gateway.metering import EndpointTokenCount, Meter
from laneway.store.base import Store


@dataclass(frozen=True)
class CarriedTokens:
    """One service's token totals from this gateway's previous run."""

    service: ObjectKey
    since: float
    tokens: dict[str, EndpointTokenCount]


def carried(services: Iterable[ModelService], identity: str) -> list[CarriedTokens]:
    """This gateway's own entries with token totals and a readable `since` (pure)."""
    out: list[CarriedTokens] = []
    for service in services:
        for entry in service.status.traffic or []:
            since = parse_timestamp(entry.since)
            if entry.gateway != identity or since is None or not entry.tokens:
                continue
            tokens = {name: EndpointTokenCount(t.tier, t.prompt, t.completion) for name, t in entry.tokens.items()}
            out.append(CarriedTokens(service.key, since, tokens))
    return out


def carry_over(store: Store, meter: Meter, identity: str) -> int:
    """Load this gateway's previous totals into `meter` (blocking); returns how many services."""
    found = carried(store.list(ModelService).items, identity)
    for c in found:
        meter.carry(c.service, since=c.since, tokens=c.tokens)
    return len(found)
