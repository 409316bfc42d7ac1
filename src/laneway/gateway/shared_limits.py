"""Rate limits that hold across every gateway process: budgets in the store, leased in small parts.

`SharedRateLimiter` answers the proxy's questions (`admit`, `charge_tokens`) like the
in-process `RateLimiter`, but the bucket behind each limit lives in the store
(`store.budgets`), shared by every gateway process on it. A process does not ask the store per
request: it *leases* a small part of the budget (`chunk` = 0.2% of the per-minute limit, at
least one unit), spends it locally, and asks again when it is used up. Units once leased are
gone from the shared bucket, so however many processes admit, the total admitted can never
pass the limit; what a process holds unspent is at most one chunk per limit, so with four
processes at most 0.8% of a limit sits idle in leases. A lease older than `lease_seconds` is
given back before the next one is taken, so idle processes do not sit on budget, and a
stopping gateway gives back what it holds (`close`).

Off the event loop. A store call is a database round trip; made on the proxy's event loop it
would stall every request of the process for its duration. So store calls run on a small
thread pool of the limiter's own (`STORE_THREADS`), and the proxy awaits them. Per limit and
key one refill is in flight at a time (an `asyncio.Lock`): requests that find the lease empty
while a refill runs wait for it and then spend what it brought, instead of each leasing a
chunk. The lease itself is only read and changed on the event loop, and a check and its
charge happen with no await between them, so no unit is spent twice. When the store had
nothing to grant, the lease remembers until when the bucket cannot have refilled enough
(`dry_until`) and refuses locally until then: a flood over a limit costs no database call per
refused request.

Tokens per minute are known only after the answer: a request is admitted while this process
holds token budget, and `charge_tokens` settles the actual count: spent from the lease, and
the rest charged to the shared bucket at once (which may go below zero; every process then
waits until it refills), as the in-process limiter does with its own bucket. The charge is a
task on the loop that takes the same per-key lock, so the next refill of that key sees it.

The store away. A store call that fails with `StoreUnavailable` switches this process to its
local `RateLimiter` with each limit scaled to `fallback_share` (1/N for N gateway processes,
`laneway gateway --limit-share`), for `retry_seconds`, then it tries the store again: limits
still hold in total while every process keeps its share, and no request waits on a database
that is not there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from laneway.api.kinds.serving import RateLimit
from laneway.gateway.limits import Admission, RateLimiter
from laneway.store.base import StoreError, StoreUnavailable
from laneway.store.budgets import Grant
from laneway.store.core import RecordStore

log = logging.getLogger(__name__)

CHUNK_FRACTION = 0.002
LEASE_SECONDS = 1.0
RETRY_SECONDS = 5.0
STORE_THREADS = 4
"""Threads for the limiter's store calls: refills of different limits run side by side."""
CLOSE_SECONDS = 5.0
"""On close: how long settling charges and giving leases back may take."""
_ALLOWED = Admission(True)
T = TypeVar("T")


@dataclass
class _Lease:
    units: float = 0.0
    taken_at: float = 0.0
    per_minute: int = 0
    """The limit the units were leased under (what giving them back needs)."""
    dry_until: float = 0.0
    """Until then the shared bucket cannot hold what one more admission needs: refuse locally."""


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


def _observed(task: asyncio.Future[Any]) -> None:
    """Done-callback: an error of a refill nobody awaits any more is not left unretrieved."""
    if not task.cancelled():
        task.exception()


class InlineExecutor(Executor):
    """Runs each call on the calling thread, at once: store calls then block the event loop, as
    they did before they moved to threads. For tests that step a clock, and for the
    benchmark's baseline (benchmarks/shared_limits.py)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class SharedRateLimiter:
    """`RateLimiter`'s questions answered from budgets in the store (see the module docstring)."""

    def __init__(
        self,
        store: RecordStore,
        *,
        clock: Callable[[], float],
        fallback_share: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        executor: Executor | None = None,
    ) -> None:
        """`executor` runs the store calls (default: a pool of `STORE_THREADS` threads, shut
        down by `close`)."""
        if not 0 < fallback_share <= 1:
            raise ValueError(f"fallback_share must be in (0, 1], got {fallback_share!r}")
        self._store = store
        self._clock = clock
        self._share = fallback_share
        self._lease_seconds = lease_seconds
        self._retry_seconds = retry_seconds
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="laneway-limits")
        self._leases: dict[tuple[str, Hashable], _Lease] = {}
        self._locks: dict[tuple[str, Hashable], asyncio.Lock] = {}
        self._settling: set[asyncio.Task[None]] = set()
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

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the limiter's executor, awaited on the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _top_up(self, name: str, *, capacity: float, rate: float, give_back: float, want: float) -> Grant:
        """Give back a stale lease's units, then take a new lease (on the executor: blocking)."""
        if give_back > 0:
            self._store.return_budget(name, capacity=capacity, per_second=rate, amount=give_back)
        return self._store.take_budget(name, capacity=capacity, per_second=rate, want=want)

    def _lock(self, slot: tuple[str, Hashable]) -> asyncio.Lock:
        lock = self._locks.get(slot)
        if lock is None:
            lock = self._locks[slot] = asyncio.Lock()
        return lock

    async def _draw(self, kind: str, key: Hashable, per_minute: int, need: float) -> tuple[_Lease, float]:
        """This process's lease of one limit holding at least `need` units, or, when the shared
        bucket cannot grant that now, the lease and the seconds until it could. The caller
        spends from the lease with no await in between."""
        slot = (kind, key)
        while True:
            lease = self._leases.setdefault(slot, _Lease())
            if lease.units >= need:
                return lease, 0.0
            if self._clock() < lease.dry_until:
                return lease, lease.dry_until - self._clock()
            # A task of its own, shielded: a request cancelled while it waits (its client went
            # away) does not cancel the refill, whose units would be leased and then lost.
            refill = asyncio.ensure_future(self._refill(slot, per_minute, need))
            refill.add_done_callback(_observed)
            await asyncio.shield(refill)
            # Other requests ran between the refill's end and now, and may have spent what it
            # brought: look again (a dry bucket set `dry_until`, so this ends).

    async def _refill(self, slot: tuple[str, Hashable], per_minute: int, need: float) -> None:
        """`_draw`'s slow half: one refill of a slot at a time, which every waiter then spends."""
        kind, key = slot
        async with self._lock(slot):
            lease = self._leases.setdefault(slot, _Lease())  # `_away` may have dropped the old one
            now = self._clock()
            if lease.units >= need or now < lease.dry_until:  # a refill ran while this one waited
                return
            capacity, rate = float(per_minute), per_minute / 60.0
            give_back = lease.units if lease.units > 0 and now - lease.taken_at > self._lease_seconds else 0.0
            lease.units -= give_back  # gone before the await: never spent while it is being returned
            grant = await self._call(
                self._top_up, _budget_key(kind, key), capacity=capacity, rate=rate, give_back=give_back, want=chunk(per_minute)
            )
            lease.units += grant.granted
            lease.taken_at = now
            lease.per_minute = per_minute
            if lease.units < need:  # the bucket is empty or in debt: refused locally until it refilled
                lease.dry_until = now + max(1e-3, (need - lease.units - grant.level) / rate)

    async def admit(self, key: Hashable, limit: RateLimit | None) -> Admission:
        """Charge one request, or say how many seconds until one would pass."""
        if limit is None:
            return _ALLOWED
        if not self.shared:
            return self._local.admit(key, scaled(limit, self._share))
        try:
            if limit.tokens_per_minute is not None:
                tokens, wait = await self._draw("tokens", key, limit.tokens_per_minute, 1e-9)
                if tokens.units <= 0:
                    return Admission(False, max(1, math.ceil(wait)), f"tokens per minute ({limit.tokens_per_minute}) used up")
            if limit.requests_per_minute is not None:
                requests, wait = await self._draw("requests", key, limit.requests_per_minute, 1.0)
                if requests.units < 1:
                    return Admission(False, max(1, math.ceil(wait)), f"requests per minute ({limit.requests_per_minute}) reached")
                requests.units -= 1  # no await since the check: no other request spent this unit
        except StoreUnavailable as exc:
            self._away(exc)
            return self._local.admit(key, scaled(limit, self._share))
        return _ALLOWED

    def charge_tokens(self, key: Hashable, limit: RateLimit | None, tokens: int) -> None:
        """Settle the tokens an answer used: from this process's lease, the rest charged to the
        store by a task (the caller, a request finishing, never waits for it)."""
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
        task = asyncio.get_running_loop().create_task(self._settle(key, limit, owed), name="gateway-limit-settle")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, key: Hashable, limit: RateLimit, owed: float) -> None:
        per_minute = limit.tokens_per_minute
        assert per_minute is not None
        try:
            async with self._lock(("tokens", key)):
                await self._call(self._store.take_budget, _budget_key("tokens", key), capacity=float(per_minute),
                                 per_second=per_minute / 60.0, want=owed, force=True)
        except StoreUnavailable as exc:
            self._away(exc)
            self._local.charge_tokens(key, scaled(limit, self._share), math.ceil(owed))
        except StoreError as exc:
            log.warning("gateway limits: %s tokens of %r not charged to the shared budget: %s", owed, key, exc)

    def _give_back(self, leases: list[tuple[str, float, float]]) -> None:
        for name, per_minute, units in leases:
            self._store.return_budget(name, capacity=per_minute, per_second=per_minute / 60.0, amount=units)

    async def close(self) -> None:
        """Finish the charges being settled, give back the units leased and not spent (a
        gateway leaving the fleet does not sit on budget), and stop the store threads. Bounded
        by `CLOSE_SECONDS`; a store that does not answer only loses what this process held."""
        try:
            if self._settling:
                await asyncio.wait(set(self._settling), timeout=CLOSE_SECONDS)
            held = [(_budget_key(kind, key), float(lease.per_minute), lease.units)
                    for (kind, key), lease in self._leases.items() if lease.units > 0 and lease.per_minute > 0]
            self._leases.clear()
            if held and self.shared:
                await asyncio.wait_for(self._call(self._give_back, held), CLOSE_SECONDS)
        except (TimeoutError, StoreError) as exc:
            log.warning("gateway limits: leased budget not given back on close: %s", exc or type(exc).__name__)
        finally:
            for task in self._settling:
                task.cancel()
            if self._own_executor:
                self._executor.shutdown(wait=False, cancel_futures=True)
