"""Choosing one endpoint: weighted entries, then power of two choices by requests in flight.

The algorithm of the default balancing policy, `LeastOutstanding` (`gateway/policies/`); the
seam every policy plugs into is `gateway/policy.py`.

Within a tier, an entry is drawn with probability proportional to its weight among the entries
that still have a usable endpoint (healthy, not saturated, not already tried by this request),
so Modelplane's shares hold while everything is healthy and shift to what is left when not.
Within the entry, two distinct endpoints are drawn at random and the one with fewer requests
ahead wins (in flight from this gateway, or the engine's own running plus waiting when a fresh
reading reports more, see `load`): it avoids both blind round robin (which keeps feeding a slow endpoint) and a global
least-loaded scan (which herds every request onto the same idle endpoint). Pure given its
inputs: the states, the clock reading and the random source are passed in.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from laneway.api.meta import ObjectKey
from laneway.gateway.health import EndpointView
from laneway.gateway.weights import Entry, Target


@dataclass(frozen=True)
class Unavailable:
    """No endpoint could be chosen. `saturated` is true when some endpoint was healthy but full."""

    saturated: bool
    reason: str


def choose(
    entries: Sequence[Entry],
    states: Mapping[ObjectKey, EndpointView],
    *,
    now: float,
    rng: random.Random,
    tried: Collection[ObjectKey] = (),
) -> Target | Unavailable:
    saturated = False
    pool: list[tuple[Entry, list[Target]]] = []
    total = 0
    for entry in entries:
        usable: list[Target] = []
        for t in entry.targets:
            if t.key in tried:
                continue
            st = states.get(t.key)
            if st is None:
                usable.append(t)
                continue
            if not st.available(now):
                continue
            if st.saturated(t.max_in_flight, now):
                saturated = True
                continue
            usable.append(t)
        if usable:
            pool.append((entry, usable))
            total += entry.weight
    if not pool:
        if saturated:
            return Unavailable(True, "every endpoint is at its maxInFlight")
        if not entries:
            return Unavailable(False, "no ready endpoint")
        return Unavailable(False, "every endpoint is failing or ejected")
    if len(pool) == 1:
        targets = pool[0][1]
    else:
        x = rng.random() * total
        targets = pool[-1][1]
        for entry, usable in pool:
            x -= entry.weight
            if x < 0:
                targets = usable
                break
    if len(targets) == 1:
        return targets[0]
    a, b = rng.sample(targets, 2)
    sa, sb = states.get(a.key), states.get(b.key)
    ia = _ahead(sa, now) if sa is not None else 0
    ib = _ahead(sb, now) if sb is not None else 0
    return a if ia <= ib else b


STALE_AFTER = 5.0
"""Seconds after which an engine's load reading is ignored (`load.STALE_AFTER` is this)."""


def _ahead(st: EndpointView, now: float) -> int:
    """Requests ahead of a new one on this endpoint (inlined `load.pressure`: hot path)."""
    load = st.load
    if load is None or now - load.observed_at > STALE_AFTER:
        return st.in_flight
    return max(st.in_flight, (load.waiting or 0) + (load.running or 0))
