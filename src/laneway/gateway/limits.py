"""Per-key rate limits (requests and tokens per minute) and the proxy's retry budget. Pure.

Both limits are token buckets that refill continuously, so a caller gets its full minute's
allowance in a burst and then a steady rate, and Retry-After says exactly when the next
request would pass. Requests are charged when admitted; tokens are charged when the response's
usage is known, so a bucket may go below zero, and the caller then waits until it is positive
again. The clock is passed in; nothing here sleeps.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from laneway.api.kinds.serving import RateLimit


@dataclass
class Bucket:
    capacity: float
    level: float
    stamp: float

    def refill(self, now: float, per_second: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * per_second)
            self.stamp = now


@dataclass(frozen=True)
class Admission:
    allowed: bool
    retry_after: int = 0
    reason: str = ""


_ALLOWED = Admission(True)
"""The answer for every admitted request: one immutable record, not one per request."""


@dataclass
class RateLimiter:
    clock: Callable[[], float]
    _requests: dict[Hashable, Bucket] = field(default_factory=dict)
    _tokens: dict[Hashable, Bucket] = field(default_factory=dict)

    def _bucket(self, table: dict[Hashable, Bucket], key: Hashable, per_minute: int, now: float) -> Bucket:
        b = table.get(key)
        if b is None or b.capacity != per_minute:
            b = table[key] = Bucket(capacity=float(per_minute), level=float(per_minute), stamp=now)
        b.refill(now, per_minute / 60.0)
        return b

    def admit(self, key: Hashable, limit: RateLimit | None) -> Admission:
        """Charge one request, or say how many seconds until one would pass."""
        if limit is None:
            return _ALLOWED
        now = self.clock()
        if limit.tokens_per_minute is not None:
            tb = self._bucket(self._tokens, key, limit.tokens_per_minute, now)
            if tb.level <= 0:
                wait = (1 - tb.level) / (limit.tokens_per_minute / 60.0)
                return Admission(False, max(1, math.ceil(wait)), f"tokens per minute ({limit.tokens_per_minute}) used up")
        if limit.requests_per_minute is not None:
            rb = self._bucket(self._requests, key, limit.requests_per_minute, now)
            if rb.level < 1:
                wait = (1 - rb.level) / (limit.requests_per_minute / 60.0)
                return Admission(False, max(1, math.ceil(wait)), f"requests per minute ({limit.requests_per_minute}) reached")
            rb.level -= 1
        return _ALLOWED

    def charge_tokens(self, key: Hashable, limit: RateLimit | None, tokens: int) -> None:
        if limit is None or limit.tokens_per_minute is None or tokens <= 0:
            return
        tb = self._bucket(self._tokens, key, limit.tokens_per_minute, self.clock())
        tb.level -= tokens


class Limits(Protocol):
    """What the proxy asks of rate limits: admit a request (awaited: a limit shared through the
    store may have to ask it), settle the tokens an answer used, and close on shutdown.
    `ProcessLimits` keeps them in this process, `shared_limits.SharedRateLimiter` in the store."""

    async def admit(self, key: Hashable, limit: RateLimit | None) -> Admission: ...

    def charge_tokens(self, key: Hashable, limit: RateLimit | None, tokens: int) -> None: ...

    async def close(self) -> None: ...


@dataclass
class ProcessLimits:
    """`RateLimiter` as `Limits`: every answer is known at once (one gateway process)."""

    limiter: RateLimiter

    async def admit(self, key: Hashable, limit: RateLimit | None) -> Admission:
        return self.limiter.admit(key, limit)

    def charge_tokens(self, key: Hashable, limit: RateLimit | None, tokens: int) -> None:
        self.limiter.charge_tokens(key, limit, tokens)

    async def close(self) -> None:
        """Nothing to give back: the buckets live and die with this process."""


@dataclass
class RetryBudget:
    """Retries allowed: at least `minimum` per window, else `ratio` of the window's requests.

    A budget (rather than only a per-request cap) keeps a failing fleet from being hit by
    three times its normal load exactly when it is weakest.
    """

    clock: Callable[[], float]
    ratio: float
    minimum: int
    window: float
    _requests: deque[float] = field(default_factory=deque)
    _retries: deque[float] = field(default_factory=deque)

    def _trim(self, now: float) -> None:
        edge = now - self.window
        while self._requests and self._requests[0] < edge:
            self._requests.popleft()
        while self._retries and self._retries[0] < edge:
            self._retries.popleft()

    def record_request(self) -> None:
        now = self.clock()
        self._requests.append(now)
        if self._requests[0] < now - self.window:
            self._trim(now)

    def try_retry(self) -> bool:
        now = self.clock()
        self._trim(now)
        if len(self._retries) < max(self.minimum, self.ratio * len(self._requests)):
            self._retries.append(now)
            return True
        return False
