"""`LeastOutstanding`, the default: weighted entries, then power of two choices by requests
in flight (the algorithm is `laneway.gateway.balancer.choose`, unchanged).

It reads nothing of the request, so the lazy request view costs it nothing, and it keeps no
memory between requests.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence

from laneway.api.kinds.serving import DEFAULT_ROUTING_POLICY
from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable, choose
from laneway.gateway.health import EndpointView
from laneway.gateway.policy import BalancingPolicy
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target


class LeastOutstanding(BalancingPolicy, name=DEFAULT_ROUTING_POLICY):
    """Weighted entry, then the less busy of two random endpoints in it."""

    def choose(
        self,
        request: RequestView,
        entries: Sequence[Entry],
        states: Mapping[ObjectKey, EndpointView],
        *,
        now: float,
        rng: random.Random,
        tried: Collection[ObjectKey],
    ) -> Target | Unavailable:
        return choose(entries, states, now=now, rng=rng, tried=tried)
