"""SharedRateLimiter over a MemoryStore: leases from one budget, settling tokens, the fallback to
each process's share while the store is unreachable, and store calls kept off the event loop.

Most tests step a hand-moved clock and run the store calls inline (`InlineExecutor`), so what
they check does not depend on thread timing; the ones about the event loop use the limiter's
own threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from laneway.api.kinds.serving import RateLimit
from laneway.gateway.shared_limits import InlineExecutor, SharedRateLimiter, chunk, scaled
from laneway.store.base import StoreUnavailable
from laneway.store.budgets import Grant
from laneway.store.memory import MemoryStore

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyStore(MemoryStore):
    """A MemoryStore whose budget calls fail while `down` is set."""

    down = False

    def take_budget(self, key: str, **kw: float | bool) -> Grant:  # type: ignore[override]
        if self.down:
            raise StoreUnavailable("database restarting")
        return super().take_budget(key, **kw)  # type: ignore[arg-type]


class GatedStore(MemoryStore):
    """A MemoryStore whose takes block (in the calling thread) until `gate` opens, and counts them."""

    def __init__(self) -> None:
        super().__init__(clock=Clock())  # the shared bucket does not refill while a test runs
        self.gate = threading.Event()
        self.takes = 0

    def take_budget(self, key: str, **kw: float | bool) -> Grant:  # type: ignore[override]
        self.takes += 1
        assert self.gate.wait(timeout=30), "the test never opened the gate"
        return super().take_budget(key, **kw)  # type: ignore[arg-type]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def inline(store: MemoryStore, clock: Clock, **kw: Any) -> SharedRateLimiter:
    return SharedRateLimiter(store, clock=clock, executor=InlineExecutor(), **kw)


async def _admitted(limiter: SharedRateLimiter, limit: RateLimit, n: int, key: str = "k") -> int:
    return sum([(await limiter.admit(key, limit)).allowed for _ in range(n)])


def test_four_processes_on_one_budget_admit_the_limit_once() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(requests_per_minute=1000)
    gateways = [inline(store, clock) for _ in range(4)]

    async def scenario() -> None:
        admitted = sum([await _admitted(g, limit, 600) for g in gateways])
        assert admitted == 1000
        refused = await gateways[0].admit("k", limit)
        assert not refused.allowed and refused.retry_after >= 1 and "requests per minute (1000)" in refused.reason

    run(scenario())


def test_leases_are_small_and_unused_ones_go_back() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(requests_per_minute=1000)
    one, two = inline(store, clock), inline(store, clock)
    assert chunk(1000) == 2.0 and chunk(10) == 1.0

    async def scenario() -> None:
        assert await _admitted(one, limit, 1) == 1  # `one` holds one unspent unit of its lease
        assert await _admitted(two, limit, 2000) == 998  # 1000 less the chunk of 2 `one` leased
        clock.now += 1.5  # one's lease is stale: given back before it takes again
        assert await _admitted(one, limit, 1) == 1

    run(scenario())


def test_a_dry_bucket_refuses_locally_until_it_can_have_refilled() -> None:
    clock = Clock()
    store = GatedStore()
    store.gate.set()
    limit = RateLimit(requests_per_minute=60)  # one a second
    limiter = SharedRateLimiter(store, clock=clock, executor=InlineExecutor())

    async def scenario() -> None:
        assert await _admitted(limiter, limit, 60) == 60
        takes = store.takes
        refused = [await limiter.admit("k", limit) for _ in range(100)]
        assert not any(a.allowed for a in refused) and refused[0].retry_after == 1
        assert store.takes == takes + 1  # one question to the store, not one per refused request

    run(scenario())


def test_tokens_are_settled_after_the_answer_across_processes() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(tokens_per_minute=600)
    one, two = inline(store, clock), inline(store, clock)

    async def scenario() -> None:
        assert (await one.admit("k", limit)).allowed
        one.charge_tokens("k", limit, 700)  # more than the whole minute: the bucket goes into debt
        await asyncio.sleep(0)  # the charge is settled by a task: let it run
        refused = await two.admit("k", limit)
        assert not refused.allowed and "tokens per minute (600)" in refused.reason
        assert refused.retry_after >= 10  # a debt of 100 tokens at 10 a second

    run(scenario())


def test_store_away_each_process_admits_its_share_then_shares_again() -> None:
    clock = Clock()
    store = FlakyStore(clock=clock)
    limit = RateLimit(requests_per_minute=100)
    limiter = inline(store, clock, fallback_share=0.25, retry_seconds=5)

    async def scenario() -> None:
        store.down = True
        assert await _admitted(limiter, limit, 100) == 25
        assert not limiter.shared
        store.down = False
        clock.now += 5
        assert await _admitted(limiter, limit, 200) == 100  # the shared budget again, whole
        assert limiter.shared

    run(scenario())


def test_the_store_call_runs_off_the_event_loop_and_waiters_share_one_refill() -> None:
    """While a refill waits on the store, the loop keeps serving; the 50 requests that found
    the lease empty spend what single refills bring instead of each leasing a chunk."""
    store = GatedStore()
    limit = RateLimit(requests_per_minute=1000)  # chunks of 2

    async def scenario() -> None:
        limiter = SharedRateLimiter(store, clock=Clock())
        try:
            admits = [asyncio.ensure_future(limiter.admit("k", limit)) for _ in range(50)]
            ticks = 0
            while store.takes == 0 or ticks < 20:  # the loop runs while the store call is blocked
                await asyncio.sleep(0.001)
                ticks += 1
            assert store.takes == 1 and not any(a.done() for a in admits)
            store.gate.set()
            answers = await asyncio.wait_for(asyncio.gather(*admits), 30)
            assert all(a.allowed for a in answers)
            assert store.takes == 25  # one refill of 2 units per two requests, never one per request
            level = store.take_budget("limit/requests/'k'", capacity=1000.0, per_second=1000 / 60, want=0).level
            assert level == 950  # 50 units leased in all: none sits idle in a lease
        finally:
            await limiter.close()

    run(scenario())


def test_a_request_cancelled_during_a_refill_does_not_lose_the_leased_units() -> None:
    store = GatedStore()
    limit = RateLimit(requests_per_minute=1000)

    async def scenario() -> None:
        limiter = SharedRateLimiter(store, clock=Clock())
        try:
            first = asyncio.ensure_future(limiter.admit("k", limit))
            while store.takes == 0:
                await asyncio.sleep(0.001)
            first.cancel()  # its client went away while the store was being asked
            store.gate.set()
            answers = [await limiter.admit("k", limit) for _ in range(2)]
            assert all(a.allowed for a in answers) and store.takes == 1  # the cancelled refill's 2 units served them
        finally:
            await limiter.close()

    run(scenario())


def test_closing_gives_the_unspent_lease_back() -> None:
    store = MemoryStore(clock=Clock())
    limit = RateLimit(requests_per_minute=6000)  # chunks of 12

    async def scenario() -> None:
        limiter = SharedRateLimiter(store, clock=Clock())
        assert (await limiter.admit("k", limit)).allowed
        await limiter.close()

    run(scenario())
    level = store.take_budget("limit/requests/'k'", capacity=6000.0, per_second=100.0, want=0).level
    assert level == 5999  # the one admitted request is spent, the other 11 units came back


def test_scaled_limits_never_reach_zero() -> None:
    assert scaled(RateLimit(requests_per_minute=3, tokens_per_minute=1000), 0.25) == RateLimit(
        requests_per_minute=1, tokens_per_minute=250
    )
