"""Gateway heartbeats: which gateway processes still serve, so a dead one's figures stop counting. Pure.

Each gateway process writes its own entry in every ModelService's `status.traffic` (see
`status`), and `SLOMet` takes the worst p95 over the entries. An entry outlives its gateway:
a gateway killed with SIGKILL, a worker of `laneway gateway --workers N` replaced under a new
pid, a machine gone. Its last figures would then keep a service failing (or passing) for
ever, and the canary judge and the economics would go on reading them.

So every gateway renews a lease named `lease_name(identity)` in the store at each status tick,
with a TTL of `ttl(...)` (a few ticks: one missed write is not death). When a gateway writes a
service's status, the SLO verdict is judged over its own figures and those of gateways whose
lease is live (`alive`); a dead gateway's entry is `retired` by that write: its window figures
(requests, errors, p95s, per-entry figures) go, so neither SLOMet nor the canary judge reads
them again, and only what it counted over its life stays: the token totals, which the economics
and the budget ledger count from and a gateway restarted under the same identity carries on
from (`carry`), and the concurrency its engines were seen to hold. An entry with neither is
removed outright. A gateway that stops cleanly releases its lease, so its
window figures go at the next tick of another gateway instead of after the TTL.

What it does not promise: lease expiry is judged on the wall clock of the process reading it
(as the controllers' leader lease is), so clocks must agree to well within the TTL; a gateway
cut off from the store but still serving has its entry removed too (it could not write its
figures anyway) and writes it again when the store is back; the retired entries of gateways
that never come back under their identity (a `--workers` worker replaced under a new pid) stay
for their token totals, one small entry each.
"""

from __future__ import annotations

from laneway.api.kinds.serving import GatewayTraffic
from laneway.store.base import Lease

PREFIX = "gateway-heartbeat/"
"""Lease names of gateway heartbeats; apart from the controllers' leader lease."""
MISSED_TICKS = 3
"""Status ticks a gateway may miss before it counts as gone."""


def lease_name(identity: str) -> str:
    """The lease gateway `identity` renews while it serves."""
    return PREFIX + identity


def ttl(*, heartbeat_ttl: float, status_interval: float) -> float:
    """The heartbeat lease's TTL: the configured one, never under `MISSED_TICKS` status ticks
    (a TTL shorter than the tick would declare every gateway dead between its own beats)."""
    return max(heartbeat_ttl, MISSED_TICKS * status_interval)


def alive(lease: Lease | None, *, identity: str, now: float) -> bool:
    """Whether gateway `identity` heartbeats: its lease is held by it and not expired. A lease
    never taken (a gateway from before heartbeats, or an entry nobody serves) is not alive."""
    return lease is not None and lease.holder == identity and lease.expires_at > now


WINDOW_FIGURES = ("requests", "errors", "p95_latency_seconds", "p95_time_to_first_token_seconds", "entries")
"""The fields of a `status.traffic` entry that describe the recent window, not the gateway's life."""


def retired(entry: GatewayTraffic) -> GatewayTraffic | None:
    """A dead gateway's entry without its window figures (`WINDOW_FIGURES`): what it counted
    over its life stays (tokens since `since`, requests and errors since it started, the
    concurrency its engines were seen to hold), or None when it holds none of that to keep."""
    if not entry.tokens and not entry.concurrency:
        return None
    fields = GatewayTraffic.model_fields
    return entry.model_copy(update={name: fields[name].get_default(call_default_factory=True) for name in WINDOW_FIGURES})
