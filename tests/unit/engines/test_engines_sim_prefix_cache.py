"""The simulator's prefix cache: hits skip prefill, the LRU evicts what was used least recently,
a full cache makes requests wait, and every store and eviction is an event."""

from __future__ import annotations

import pytest

from laneway.engines.sim.batching import BatchingEngine, Phase
from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.prefix_cache import PrefixCache
from laneway.gateway.kv_index import BlockRemoved, BlockStored


def test_cached_blocks_are_hits_and_free_blocks_stay_until_space_is_needed() -> None:
    cache = PrefixCache(10)
    a = cache.allocate((1, 2, 3), 4)
    assert a is not None and a.hits == 0 and cache.used == 4
    assert cache.drain_events() == [BlockStored((1, 2, 3), None)]
    cache.release(a)
    assert cache.used == 0 and cache.cached == 3
    b = cache.allocate((1, 2, 9), 3)
    assert b is not None and b.hits == 2
    assert cache.drain_events() == [BlockStored((9,), 2)]
    cache.release(b)
    # 3 is the least recently used free block: it goes first when room is needed.
    c = cache.allocate((20, 21, 22, 23, 24, 25, 26), 7)
    assert c is not None
    events = cache.drain_events()
    assert events[0] == BlockRemoved((3,)) and cache.holds(1) and not cache.holds(3)


def test_a_full_cache_makes_a_sequence_wait() -> None:
    cache = PrefixCache(4)
    held = cache.allocate((1, 2), 3)
    assert held is not None
    assert cache.allocate((5, 6), 2) is None  # one block free, pinned ones cannot be evicted
    cache.release(held)
    assert cache.allocate((5, 6), 2) is not None


def engine(**kw: object) -> BatchingEngine:
    return BatchingEngine(SimConfig(**kw), clock=lambda: 0.0)  # type: ignore[arg-type]


def test_prefill_covers_only_uncached_tokens_and_prefills_share_one_lane() -> None:
    e = engine(kv_blocks=100, ttft=0.0, prefill_per_token=0.001, itl=0.01)
    first = e.submit("a", prompt_tokens=1000, output=["x"], finish_reason="stop", now=0.0,
                     blocks=tuple(range(1, 10)), total_blocks=10)
    e.advance(0.0)
    assert first.prefill_done_at == pytest.approx(1.0)
    e.advance(1.0)
    assert first.finished
    again = e.submit("b", prompt_tokens=1000, output=["x"], finish_reason="stop", now=1.0,
                     blocks=tuple(range(1, 10)), total_blocks=10)
    other = e.submit("c", prompt_tokens=1000, output=["x"], finish_reason="stop", now=1.0,
                     blocks=tuple(range(50, 59)), total_blocks=10)
    e.advance(1.0)
    assert again.cached_tokens == 900
    assert again.prefill_done_at == pytest.approx(1.1)
    assert other.prefill_done_at == pytest.approx(2.1)  # behind b on the prefill lane


def test_engine_admits_nothing_past_a_sequence_whose_blocks_do_not_fit() -> None:
    e = engine(kv_blocks=10, max_num_seqs=8)
    big = e.submit("a", prompt_tokens=10, output=["x", "y"], finish_reason="stop", now=0.0, blocks=(1,), total_blocks=8)
    wait = e.submit("b", prompt_tokens=10, output=["x"], finish_reason="stop", now=0.0, blocks=(2,), total_blocks=5)
    after = e.submit("c", prompt_tokens=10, output=["x"], finish_reason="stop", now=0.0, blocks=(3,), total_blocks=1)
    e.advance(0.0)
    assert big.phase is Phase.PREFILL and wait.phase is Phase.WAITING and after.phase is Phase.WAITING
    assert e.num_waiting == 2
