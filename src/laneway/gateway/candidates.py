"""The endpoints one attempt may use, for policies that rank them. Pure.

The same filter `balancer.choose` applies (not tried, healthy or due for its probe, below its
`maxInFlight`), written once for every ranking policy so none of them drifts from the seam's
rules (`policy.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.health import EndpointView
from laneway.gateway.weights import Entry, Target


@dataclass(frozen=True)
class Candidates:
    usable: tuple[Target, ...]
    saturated: bool
    """Some endpoint was healthy but at its maxInFlight."""

    def unavailable(self, entries: Sequence[Entry]) -> Unavailable:
        if self.saturated:
            return Unavailable(True, "every endpoint is at its maxInFlight")
        if not entries:
            return Unavailable(False, "no ready endpoint")
        return Unavailable(False, "every endpoint is failing or ejected")


def candidates(
    entries: Sequence[Entry],
    states: Mapping[ObjectKey, EndpointView],
    *,
    now: float,
    tried: Collection[ObjectKey],
) -> Candidates:
    usable: list[Target] = []
    saturated = False
    seen: set[ObjectKey] = set()
    for entry in entries:
        for t in entry.targets:
            if t.key in tried or t.key in seen:
                continue
            seen.add(t.key)
            st = states.get(t.key)
            if st is not None:
                if not st.available(now):
                    continue
                if st.saturated(t.max_in_flight, now):
                    saturated = True
                    continue
            usable.append(t)
    return Candidates(tuple(usable), saturated)
