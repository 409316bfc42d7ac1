"""Rate limits that hold across every gateway process: budgets in the store, leased in small parts.

`SharedRateLimiter` answers the proxy's two questions (`admit`, `charge_tokens`) like the
in-process `RateLimiter`, but the bucket behind each limit lives in the store
(`store.budgets`), shared by every gateway process on it. A process does not ask the store per
request: it *leases* a small part of the budget (`chunk` = 0.2% of the per-minute limit, at
least one unit), spends it locally, and asks again when it is used up. Units once leased are
gone from the shared bucket, so however many processes admit, the total admitted can never
pass the limit; what a process holds unspent is at most one chunk per limit, so with four
processes at most 0.8% of a limit sits idle in leases. A lease older than `lease_seconds` is
given back before the next one is taken, so idle processes do not sit on budget.

Tokens per minute are known only after the answer: a request is admitted while this process
holds token budget, and `charge_tokens` settles the actual count: spent from the lease, and
the rest charged to the shared bucket at once (which may go below zero; every process then
waits until it refills), as the in-process limiter does with its own bucket.

The store away. A store call that fails with `StoreUnavailable` switches this process to its
local `RateLimiter` with each limit scaled to `fallback_share` (1/N for N gateway processes,
`laneway gateway --limit-share`), for `retry_seconds`, then it tries the store again: limits
still hold in total while every process keeps its share, and no request waits on a database
that is not there.

A lease round trip is a blocking store call on the proxy's event loop: one per `chunk`
requests per limit, about a millisecond on a local network.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from laneway.api.kinds.serving import RateLimit
from laneway.gateway.limits import Admission, RateLimiter
from laneway.store.base import StoreUnavailable
from laneway.store.core import RecordStore

log = logging.getLogger(__name__)

CHUNK_FRACTION = 0.002
LEASE_SECONDS = 1.0
RETRY_SECONDS = 5.0
_ALLOWED = Admission(True)


@dataclass
class _Lease:
    units: float = 0.0
    taken_at: float = 0.0


def _budget_key(kind: str, key: Hashable) -> str:
    return f"limit/{kind}/{key!r}"


def chunk(per_minute: int) -> float:
    return float(max(1, math.floor(per_minute * CHUNK_FRACTION)))


def scaled(limit: RateLimit, share: float) -> RateLimit:
    """A limit cut to one process's share (never below one unit a minute)."""
    def part(value: int | None) -> int | None:
        return None if value is None else max(1, math.floor(value * share))

    return limit.model_copy(update={"requests_per_minute": part(limit.requests_per_minute),
                                    "tokens_per_minute": part(limit.tokens_per_minute)})


class SharedRateLimiter:
    """`RateLimiter`'s interface over budgets in the store (see the module docstring)."""

    def __init__(
        self,
        store: RecordStore,
        *,
        clock: Callable[[], float],
        fallback_share: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if not 0 < fallback_share <= 1:
            raise ValueError(f"fallback_share must be in (0, 1], got {fallback_share!r}")
        self._store = store
        self._clock = clock
        self._share = fallback_share
        self._lease_seconds = lease_seconds
        self._retry_seconds = retry_seconds
        self._leases: dict[tuple[str, Hashable], _Lease] = {}
        self._local = RateLimiter(clock=clock)
        self._away_until = 0.0

    @property
    def shared(self) -> bool:
        """False while the store is away and limits are each process's share."""
        return self._clock() >= self._away_until

    def _away(self, exc: StoreUnavailable) -> None:
        if self.shared:
            log.warning("gateway limits: the store is unreachable (%s); each limit falls back to this process's "
                        "share (%.3g) for %.0f s", str(exc).strip(), self._share, self._retry_seconds)
        self._away_until = self._clock() + self._retry_seconds
        self._leases.clear()  # units leased before stay spent: never admitted twice

    def _draw(self, kind: str, key: Hashable, per_minute: int, need: float, now: float) -> tuple[_Lease, float]:
        """This process's lease of one limit, topped up from the store when below `need`;
        returns it with the shared level after the last take (for Retry-After)."""
        lease = self._leases.setdefault((kind, key), _Lease())
        level = 1.0
        if lease.units >= need:
            return lease, level
        capacity, rate = float(per_minute), per_minute / 60.0
        name = _budget_key(kind, key)
        if lease.units > 0 and now - lease.taken_at > self._lease_seconds:
            self._store.return_budget(name, capacity=capacity, per_second=rate, amount=lease.units)
            lease.units = 0.0
        grant = self._store.take_budget(name, capacity=capacity, per_second=rate, want=chunk(per_minute))
        lease.units += grant.granted
        lease.taken_at = now
        return lease, grant.level

    def admit(self, key: Hashable, limit: RateLimit | None) -> Admission:
        """Charge one request, or say how many seconds until one would pass."""
        if limit is None:
            return _ALLOWED
        if not self.shared:
            return self._local.admit(key, scaled(limit, self._share))
        now = self._clock()
        try:
            if limit.tokens_per_minute is not None:
                tokens, level = self._draw("tokens", key, limit.tokens_per_minute, 1e-9, now)
                if tokens.units <= 0:
                    wait = (1 - level) / (limit.tokens_per_minute / 60.0)
                    return Admission(False, max(1, math.ceil(wait)), f"tokens per minute ({limit.tokens_per_minute}) used up")
            if limit.requests_per_minute is not None:
                requests, level = self._draw("requests", key, limit.requests_per_minute, 1.0, now)
                if requests.units < 1:
                    wait = (1 - level) / (limit.requests_per_minute / 60.0)
                    return Admission(False, max(1, math.ceil(wait)), f"requests per minute ({limit.requests_per_minute}) reached")
                requests.units -= 1
        except StoreUnavailable as exc:
            self._away(exc)
            return self._local.admit(key, scaled(limit, self._share))
        return _ALLOWED

    def charge_tokens(self, key: Hashable, limit: RateLimit | None, tokens: int) -> None:
        """Settle the tokens an answer used: from this process's lease, the rest from the store."""
        if limit is None or limit.tokens_per_minute is None or tokens <= 0:
            return
        if not self.shared:
            self._local.charge_tokens(key, scaled(limit, self._share), tokens)
            return
        lease = self._leases.setdefault(("tokens", key), _Lease())
        lease.units -= tokens
        if lease.units >= 0:
            return
        owed, lease.units = -lease.units, 0.0
        per_minute = limit.tokens_per_minute
        try:
            self._store.take_budget(
                _budget_key("tokens", key), capacity=float(per_minute), per_second=per_minute / 60.0, want=owed, force=True
            )
        except StoreUnavailable as exc:
            self._away(exc)
            self._local.charge_tokens(key, scaled(limit, self._share), tokens)
