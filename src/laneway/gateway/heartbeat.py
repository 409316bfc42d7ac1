"""Gateway heartbeats: which gateway processes still serve, so a dead one's figures stop counting. Pure.

Each gateway process writes its own entry in every ModelService's `status.traffic` (see
`status`), and `SLOMet` takes the worst p95 over the entries. An entry outlives its gateway:
a gateway killed with SIGKILL, a worker of `laneway gateway --workers N` replaced under a new
pid, a machine gone. Its last figures would then keep a service failing (or passing) for
ever, and the canary judge and the economics would go on reading them.

So every gateway renews a lease named `lease_name(identity)` in the store at each status tick,
with a TTL of `ttl(config)` (a few ticks: one missed write is not death). When a gateway
writes a service's status it keeps only the entries of gateways whose lease is live (`alive`)
and its own; the SLO verdict is judged over those alone, and a dead gateway's entry is removed
by the next live gateway's write. A gateway that stops cleanly releases its lease, so its entry
goes at the next tick of another gateway instead of after the TTL.

What it does not promise: lease expiry is judged on the wall clock of the process reading it
(as the controllers' leader lease is), so clocks must agree to well within the TTL; a gateway
cut off from the store but still serving has its entry removed too (it could not write its
figures anyway) and writes it again when the store is back; the tokens a dead gateway metered
leave `status.traffic` with its entry, as a restarted gateway's do (the economics count from
each entry's `since`).
"""

from __future__ import annotations

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
