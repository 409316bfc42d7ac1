"""`KVAware`: score every usable endpoint by the prompt blocks its engine really holds and by
its load, and take the best. Precise: the block index comes from the engine's own KV-cache
events (`gateway.kv_index`, subscribed per endpoint by `gateway.engine_watch`).

Score, each part in 0..1, weighted the way llm-d's endpoint picker weighs its precise
prefix-cache, queue and KV-utilisation scorers (3 : 2 : 1 here):

    3 * (leading blocks held / blocks of the prompt)
  + 2 * (1 - queue / (longest queue among candidates + 1))
  + 1 * (1 - KV-cache use)

where queue is the requests ahead of a new one (`load.pressure`: this gateway's in-flight count,
or the engine's running plus waiting when it reports more). An endpoint that is hot (see
`prefix_affinity.hot_endpoints`: a queue forming or a full KV cache by its engine's fresh
reading) is only chosen when every usable one is. Letting the queue grow further before moving
(16 waiting) concentrated tenants until their prefixes no longer fit one engine's KV cache
together, and the benchmark's p90 time to first token was ten times worse; ties go to a random
one (`rng`). An endpoint whose event stream is not connected, or lost a batch, scores no prefix
hits until its next snapshot, so a broken stream degrades to load balancing, never to a wrong
"cached" claim. With no prompt to hash, the prefix part is 0 for all and load decides.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from typing import ClassVar

from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.candidates import candidates
from laneway.gateway.health import EndpointView
from laneway.gateway.load import pressure
from laneway.gateway.policies.prefix_affinity import hot_endpoints
from laneway.gateway.policy import BalancingPolicy
from laneway.gateway.prefix import block_hashes
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target

PREFIX_WEIGHT = 3.0
QUEUE_WEIGHT = 2.0
KV_WEIGHT = 1.0


class KVAware(BalancingPolicy, name="KVAware"):
    """Exact prefix hits from KV events, combined with engine load."""

    kv_events: ClassVar[bool] = True

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
        found = candidates(entries, states, now=now, tried=tried)
        if not found.usable:
            return found.unavailable(entries)
        if len(found.usable) == 1:
            return found.usable[0]
        hashes = block_hashes(request.prompt.text)
        hot = hot_endpoints(found.usable, states, now)
        pool = [t for t in found.usable if t.key not in hot] or list(found.usable)
        loads = {t.key: pressure(states[t.key], now) if t.key in states else None for t in pool}
        longest = max((p.queue for p in loads.values() if p is not None), default=0)
        best: Target = pool[0]
        best_score = -1.0
        for t in pool:
            st = states.get(t.key)
            p = loads[t.key]
            prefix = 0.0
            if hashes and st is not None and st.kv is not None:
                prefix = st.kv.prefix_hits(hashes) / len(hashes)
            queue = 0.0 if p is None else p.queue / (longest + 1)
            kv_use = 0.0 if p is None else p.kv_cache_usage
            score = PREFIX_WEIGHT * prefix + QUEUE_WEIGHT * (1.0 - queue) + KV_WEIGHT * (1.0 - kv_use) + rng.random() * 1e-6
            if score > best_score:
                best, best_score = t, score
        return best
