"""PrefixAffinity and KVAware as pure functions: a request view and endpoint states in, one
choice out. Stickiness, moving on saturation, bounded memory, stale and missing engine metrics,
and the KV index following the engine's events."""

from __future__ import annotations

import random

import pytest

from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.health import EndpointState, EngineLoad
from laneway.gateway.kv_index import (
    AllBlocksCleared,
    BlockRemoved,
    BlockStored,
    KVBlocks,
    KVEventBatch,
    KVEventError,
    encode_batch,
    parse_batch,
)
from laneway.gateway.policies.kv_aware import KVAware
from laneway.gateway.policies.prefix_affinity import PrefixAffinity
from laneway.gateway.prefix import BLOCK_CHARS, block_hashes
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target

NS = "ml"
SERVICE = ObjectKey(NS, "chat")
NOW = 100.0


def target(name: str, cap: int | None = None) -> Target:
    return Target(key=ObjectKey(NS, name), name=name, base_url=f"http://{name}:80", model=None, max_in_flight=cap, labels=())


ENTRIES = [Entry(index=0, tier="Primary", weight=1, targets=tuple(target(n, cap=16) for n in "abcd"))]


def tenant_prompt(tenant: int) -> str:
    return f"Tenant {tenant} policy manual. " * 200  # ~6,000 characters: many blocks


def view(system: str, question: str = "what now?") -> RequestView:
    return RequestView(service=SERVICE, model="chat", path="/v1/chat/completions", key_id="k",
                       payload={"model": "chat", "messages": [{"role": "system", "content": system},
                                                              {"role": "user", "content": question}]})


def states(**in_flight: int) -> dict[ObjectKey, EndpointState]:
    return {ObjectKey(NS, n): EndpointState(in_flight=in_flight.get(n, 0)) for n in "abcd"}


def pick(policy: PrefixAffinity | KVAware, request: RequestView, st: dict[ObjectKey, EndpointState], seed: int = 0,
         tried: frozenset[ObjectKey] = frozenset()) -> str:
    got = policy.choose(request, ENTRIES, st, now=NOW, rng=random.Random(seed), tried=tried)
    assert isinstance(got, Target), got
    return got.name


# ---- block hashing -----------------------------------------------------------------------------


def test_equal_leading_turns_give_equal_leading_hashes_and_only_full_blocks_count() -> None:
    a = block_hashes(view(tenant_prompt(1), "first question").prompt.text)
    b = block_hashes(view(tenant_prompt(1), "another, longer question entirely").prompt.text)
    c = block_hashes(view(tenant_prompt(2)).prompt.text)
    shared = len(tenant_prompt(1)) // BLOCK_CHARS
    assert a[:shared] == b[:shared]
    assert a[0] != c[0]
    assert block_hashes("x" * (BLOCK_CHARS - 1)) == ()
    assert len(block_hashes("x" * BLOCK_CHARS * 1000)) == 256  # bounded per request


# ---- PrefixAffinity ------------------------------------------------------------------------------


def test_prefix_affinity_sticks_a_prefix_to_the_endpoint_that_served_it() -> None:
    policy = PrefixAffinity()
    st = states()
    first = {t: pick(policy, view(tenant_prompt(t), "q0"), st, seed=t) for t in range(8)}
    for t in range(8):
        for q in range(5):
            assert pick(policy, view(tenant_prompt(t), f"question {q}"), st, seed=100 + q) == first[t]


def test_prefix_affinity_moves_when_the_home_is_saturated_and_the_prefix_follows() -> None:
    policy = PrefixAffinity()
    home = pick(policy, view(tenant_prompt(1)), states())
    # The engine reports a queue forming there: the request goes elsewhere...
    st = states()
    st[ObjectKey(NS, home)].load = EngineLoad(observed_at=NOW - 0.5, waiting=6, running=8)
    moved = pick(policy, view(tenant_prompt(1), "next"), st)
    assert moved != home
    # ...and the prefix now lives there, even once the old home is idle again.
    assert pick(policy, view(tenant_prompt(1), "later"), states()) == moved


def test_prefix_affinity_moves_off_an_endpoint_at_its_max_in_flight() -> None:
    policy = PrefixAffinity()
    home = pick(policy, view(tenant_prompt(3)), states())
    full = states(**{home: 16})
    assert pick(policy, view(tenant_prompt(3), "again"), full) != home


def test_prefix_affinity_without_engine_metrics_still_breaks_a_herd() -> None:
    """No readings at all: the gateway's own in-flight count decides when a home is too busy."""
    policy = PrefixAffinity()
    home = pick(policy, view(tenant_prompt(4)), states())
    assert pick(policy, view(tenant_prompt(4), "q"), states(**{home: 7})) == home
    assert pick(policy, view(tenant_prompt(4), "q"), states(**{home: 8})) != home


def test_prefix_affinity_ignores_a_stale_reading() -> None:
    policy = PrefixAffinity()
    home = pick(policy, view(tenant_prompt(5)), states())
    st = states()
    st[ObjectKey(NS, home)].load = EngineLoad(observed_at=NOW - 60.0, waiting=50, running=8)
    assert pick(policy, view(tenant_prompt(5), "q"), st) == home


def test_prefix_affinity_memory_is_bounded() -> None:
    policy = PrefixAffinity(max_blocks=500)
    for t in range(200):
        pick(policy, view(tenant_prompt(t)), states(), seed=t)
        assert len(policy) <= 500
    assert len(policy) == 500
    # The most recent tenants are still remembered; the oldest were forgotten.
    assert policy.home_of(block_hashes(view(tenant_prompt(199)).prompt.text)) is not None
    assert policy.home_of(block_hashes(view(tenant_prompt(0)).prompt.text)) is None


def test_prefix_affinity_without_a_prompt_balances_by_load() -> None:
    policy = PrefixAffinity()
    empty = RequestView(service=SERVICE, model=None, path="/v1/models", key_id="k")
    assert pick(policy, empty, states(a=5, b=5, c=0, d=5), seed=3) in {"c", "a", "b", "d"}
    assert len(policy) == 0


def test_prefix_affinity_says_saturated_when_every_endpoint_is_full() -> None:
    got = PrefixAffinity().choose(view(tenant_prompt(1)), ENTRIES, states(a=16, b=16, c=16, d=16), now=NOW,
                                  rng=random.Random(1), tried=())
    assert got == Unavailable(True, "every endpoint is at its maxInFlight")


# ---- KV index and KVAware ------------------------------------------------------------------------


def synced(hashes: tuple[int, ...]) -> KVBlocks:
    kv = KVBlocks()
    kv.apply(KVEventBatch(ts=0.0, seq=0, events=(AllBlocksCleared(), BlockStored(hashes))), now=NOW)
    return kv


def test_kv_index_follows_stores_evictions_and_clears() -> None:
    hashes = block_hashes(tenant_prompt(1))
    kv = synced(hashes)
    assert kv.prefix_hits(hashes) == len(hashes)
    kv.apply(KVEventBatch(ts=1.0, seq=1, events=(BlockRemoved(hashes[5:6]),)), now=NOW)
    assert kv.prefix_hits(hashes) == 5
    kv.apply(KVEventBatch(ts=2.0, seq=2, events=(AllBlocksCleared(),)), now=NOW)
    assert kv.prefix_hits(hashes) == 0


def test_kv_index_distrusts_a_gap_in_the_stream_and_a_flood() -> None:
    hashes = block_hashes(tenant_prompt(1))
    kv = synced(hashes)
    kv.apply(KVEventBatch(ts=1.0, seq=5, events=()), now=NOW)  # batches 1..4 were lost
    assert kv.prefix_hits(hashes) == 0
    small = KVBlocks(max_blocks=10)
    small.apply(KVEventBatch(ts=0.0, seq=0, events=(AllBlocksCleared(), BlockStored(tuple(range(11))))), now=NOW)
    assert not small.synced and len(small.blocks) == 0  # a hostile engine cannot grow it past the bound


def test_kv_events_round_trip_and_bad_batches_say_what_is_wrong() -> None:
    line = encode_batch([AllBlocksCleared(), BlockStored((1, 2), 0), BlockRemoved((1,))], ts=3.0, seq=9, block_size=256)
    batch = parse_batch(line)
    assert batch.seq == 9 and batch.events == (AllBlocksCleared(), BlockStored((1, 2), 0), BlockRemoved((1,)))
    for bad, says in ((b"nope", "not JSON"), (b'{"events": [{"type": "BlockEaten"}]}', r"events\[0\]\.type"),
                      (b'{"events": [{"type": "BlockStored", "block_hashes": ["x"]}]}', "block_hashes")):
        with pytest.raises(KVEventError, match=says):
            parse_batch(bad)


def test_kv_aware_goes_where_the_blocks_are() -> None:
    prompt = tenant_prompt(7)
    hashes = block_hashes(view(prompt).prompt.text)
    st = states(a=2, b=0, c=0, d=0)
    st[ObjectKey(NS, "a")].kv = synced(hashes)
    for name in "bcd":
        st[ObjectKey(NS, name)].kv = synced(())
    for seed in range(10):
        assert pick(KVAware(), view(prompt, f"q{seed}"), st, seed=seed) == "a"


def test_kv_aware_follows_an_eviction() -> None:
    prompt = tenant_prompt(8)
    hashes = block_hashes(view(prompt).prompt.text)
    st = states(a=1, b=1, c=1, d=1)
    st[ObjectKey(NS, "a")].kv = synced(hashes)
    st[ObjectKey(NS, "b")].kv = synced(hashes[:3])
    assert pick(KVAware(), view(prompt), st) == "a"
    kv = st[ObjectKey(NS, "a")].kv
    assert kv is not None
    kv.apply(KVEventBatch(ts=1.0, seq=1, events=(BlockRemoved(hashes),)), now=NOW)
    assert pick(KVAware(), view(prompt), st) == "b"


def test_kv_aware_leaves_a_saturated_holder_and_ignores_an_unsynced_index() -> None:
    prompt = tenant_prompt(9)
    hashes = block_hashes(view(prompt).prompt.text)
    st = states()
    st[ObjectKey(NS, "a")].kv = synced(hashes)
    st[ObjectKey(NS, "a")].load = EngineLoad(observed_at=NOW, waiting=10, running=8, kv_cache_usage=1.0)
    assert pick(KVAware(), view(prompt), st) != "a"
    st = states(a=0, b=0, c=0, d=3)
    kv = synced(hashes)
    kv.lost()  # the stream broke: its claims are not believed
    st[ObjectKey(NS, "d")].kv = kv
    assert pick(KVAware(), view(prompt), st) != "d"


def test_kv_aware_without_any_index_or_metrics_balances_by_in_flight() -> None:
    assert pick(KVAware(), view(tenant_prompt(1)), states(a=4, b=4, c=1, d=4)) == "c"


def test_kv_aware_ignores_a_stale_reading_and_uses_a_fresh_one() -> None:
    prompt = tenant_prompt(10)
    hashes = block_hashes(view(prompt).prompt.text)
    st = states()
    st[ObjectKey(NS, "b")].kv = synced(hashes)
    st[ObjectKey(NS, "b")].load = EngineLoad(observed_at=NOW - 60.0, waiting=50, running=8, kv_cache_usage=1.0)
    assert pick(KVAware(), view(prompt), st) == "b"  # a minute old: not believed
    st[ObjectKey(NS, "b")].load = EngineLoad(observed_at=NOW - 0.2, waiting=50, running=8, kv_cache_usage=1.0)
    assert pick(KVAware(), view(prompt), st) != "b"  # fresh: it is saturated, go elsewhere
