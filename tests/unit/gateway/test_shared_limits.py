"""SharedRateLimiter over a MemoryStore: leases from one budget, settling tokens, and the
fallback to each process's share while the store is unreachable."""

from __future__ import annotations

from laneway.api.kinds.serving import RateLimit
from laneway.gateway.shared_limits import SharedRateLimiter, chunk, scaled
from laneway.store.base import StoreUnavailable
from laneway.store.budgets import Grant
from laneway.store.memory import MemoryStore


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


def _admitted(limiter: SharedRateLimiter, limit: RateLimit, n: int, key: str = "k") -> int:
    return sum(limiter.admit(key, limit).allowed for _ in range(n))


def test_four_processes_on_one_budget_admit_the_limit_once() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(requests_per_minute=1000)
    gateways = [SharedRateLimiter(store, clock=clock) for _ in range(4)]
    admitted = sum(_admitted(g, limit, 600) for g in gateways)
    assert admitted == 1000
    refused = gateways[0].admit("k", limit)
    assert not refused.allowed and refused.retry_after >= 1 and "requests per minute (1000)" in refused.reason


def test_leases_are_small_and_unused_ones_go_back() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(requests_per_minute=1000)
    one, two = SharedRateLimiter(store, clock=clock), SharedRateLimiter(store, clock=clock)
    assert chunk(1000) == 2.0 and chunk(10) == 1.0
    assert _admitted(one, limit, 1) == 1  # `one` holds one unspent unit of its lease
    assert _admitted(two, limit, 2000) == 998  # 1000 less the chunk of 2 `one` leased
    clock.now += 1.5  # one's lease is stale: given back before it takes again
    assert _admitted(one, limit, 1) == 1


def test_tokens_are_settled_after_the_answer_across_processes() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    limit = RateLimit(tokens_per_minute=600)
    one, two = SharedRateLimiter(store, clock=clock), SharedRateLimiter(store, clock=clock)
    assert one.admit("k", limit).allowed
    one.charge_tokens("k", limit, 700)  # more than the whole minute: the bucket goes into debt
    refused = two.admit("k", limit)
    assert not refused.allowed and "tokens per minute (600)" in refused.reason


def test_store_away_each_process_admits_its_share_then_shares_again() -> None:
    clock = Clock()
    store = FlakyStore(clock=clock)
    limit = RateLimit(requests_per_minute=100)
    limiter = SharedRateLimiter(store, clock=clock, fallback_share=0.25, retry_seconds=5)
    store.down = True
    assert _admitted(limiter, limit, 100) == 25
    assert not limiter.shared
    store.down = False
    clock.now += 5
    assert _admitted(limiter, limit, 200) == 100  # the shared budget again, whole
    assert limiter.shared


def test_scaled_limits_never_reach_zero() -> None:
    assert scaled(RateLimit(requests_per_minute=3, tokens_per_minute=1000), 0.25) == RateLimit(
        requests_per_minute=1, tokens_per_minute=250
    )
