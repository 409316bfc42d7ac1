"""`PrefixAffinity`: send a request where its prompt's prefix was sent before, until that
endpoint is saturated. Approximate: the gateway remembers what it routed, not what the engine
kept.

The prompt's canonical text is cut into blocks with chained hashes (`gateway.prefix`). An LRU
map remembers, for each block hash, the endpoint that last received a request containing it.
A request goes to the endpoint holding its longest remembered prefix, unless that endpoint is
hot; then to the next-longest prefix's endpoint; failing all, to the least loaded endpoint
(`balancer.choose` over those not hot, weights and power of two choices as the default
policy). Whatever is chosen is remembered for every block of the prompt, so a prefix moves
with its traffic when its first home fills up. This is llm-d's "sticky until saturated".

When every usable endpoint is hot, the prefix stays where it is: moving it would add a cache
miss to a queue that is as long everywhere. Hot means the engine's fresh reading shows a queue forming or a full KV cache
(`load.about_to_queue`); for an engine with no fresh reading, more requests in flight from this
gateway than `HOT_SLACK` plus twice the least busy candidate's: the guard that keeps one
popular prefix from herding a whole tier onto one replica when engines report nothing.

Memory is bounded: at most `max_blocks` block hashes are remembered (8 bytes of key and a
reference each, about 100 bytes per entry with the dict's overhead: 6.5 MB at the default); the
least recently used go first. Within a tier the entries' weights give way to affinity; a
service that needs exact shares (a canary) keeps `LeastOutstanding`.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence

from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable, choose
from laneway.gateway.candidates import candidates
from laneway.gateway.health import EndpointView
from laneway.gateway.load import QUEUE_LIMIT, about_to_queue, fresh
from laneway.gateway.policy import BalancingPolicy
from laneway.gateway.prefix import BlockHash, block_hashes
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target

MAX_BLOCKS = 65_536
HOT_SLACK = 8


def hot_endpoints(
    usable: Sequence[Target], states: Mapping[ObjectKey, EndpointView], now: float, *, slack: int = HOT_SLACK,
    queue_limit: int = QUEUE_LIMIT,
) -> frozenset[ObjectKey]:
    """The usable endpoints that should not take a request for affinity's sake (see module)."""
    in_flight = {t.key: (states[t.key].in_flight if t.key in states else 0) for t in usable}
    floor = min(in_flight.values(), default=0)
    out: set[ObjectKey] = set()
    for t in usable:
        st = states.get(t.key)
        if st is not None and fresh(st.load, now) is not None:
            if about_to_queue(st, now, queue_limit=queue_limit):
                out.add(t.key)
        elif in_flight[t.key] >= 2 * floor + slack:
            out.add(t.key)
    return frozenset(out)


def least_loaded(
    entries: Sequence[Entry],
    states: Mapping[ObjectKey, EndpointView],
    *,
    now: float,
    rng: random.Random,
    tried: Collection[ObjectKey],
    avoid: frozenset[ObjectKey],
) -> Target | Unavailable:
    """The default policy's choice among endpoints not in `avoid`, or among all when every
    usable one is to be avoided."""
    if avoid:
        picked = choose(entries, states, now=now, rng=rng, tried=set(tried) | avoid)
        if not isinstance(picked, Unavailable):
            return picked
    return choose(entries, states, now=now, rng=rng, tried=tried)


class PrefixAffinity(BalancingPolicy, name="PrefixAffinity"):
    """Longest remembered prefix first, sticky until hot, then least loaded."""

    def __init__(self, *, max_blocks: int = MAX_BLOCKS) -> None:
        if max_blocks < 1:
            raise ValueError(f"PrefixAffinity max_blocks must be 1 or more, got {max_blocks}")
        self.max_blocks = max_blocks
        self._homes: OrderedDict[BlockHash, ObjectKey] = OrderedDict()

    def __len__(self) -> int:
        """Block hashes remembered now (never more than `max_blocks`)."""
        return len(self._homes)

    def home_of(self, hashes: Sequence[BlockHash]) -> tuple[ObjectKey, int] | None:
        """The endpoint holding the longest remembered prefix of `hashes`, and its length."""
        for depth in range(len(hashes), 0, -1):
            home = self._homes.get(hashes[depth - 1])
            if home is not None:
                return home, depth
        return None

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
        hashes = block_hashes(request.prompt.text)
        hot = hot_endpoints(found.usable, states, now)
        if len(hot) == len(found.usable):
            hot = frozenset()  # every one queues: moving a prefix would only add a cache miss
        picked: Target | Unavailable | None = None
        if hashes:
            usable = {t.key: t for t in found.usable}
            homes = self._homes
            for depth in range(len(hashes), 0, -1):
                home = homes.get(hashes[depth - 1])
                if home is not None and home in usable and home not in hot:
                    picked = usable[home]
                    break
        if picked is None:
            picked = least_loaded(entries, states, now=now, rng=rng, tried=tried, avoid=hot)
        if isinstance(picked, Target):
            self._remember(hashes, picked.key)
        return picked

    def _remember(self, hashes: Sequence[BlockHash], key: ObjectKey) -> None:
        homes = self._homes
        for h in hashes:
            homes[h] = key
            homes.move_to_end(h)
        while len(homes) > self.max_blocks:
            homes.popitem(last=False)
