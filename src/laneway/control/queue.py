"""The work queue between events and reconciles: de-duplicating, delaying, backing off.

Semantics, as client-go's workqueue keeps them:
- a key queued again while it waits is processed once (`add` is idempotent while queued);
- a key queued while it is being processed is not handed to a second worker; it is marked
  dirty and queued again when the worker calls `done`, so the change is never lost;
- `add_after` queues a key once a delay passes; of several pending delays for one key the
  earliest wins;
- `add_rate_limited` delays by a per-key exponential backoff that grows with each failure
  and is capped; `forget` resets it after a success.

`QueueState` is the whole logic with time passed in (plain data, testable without an event
loop); `WorkQueue` wraps it for asyncio workers. Keys only need to be hashable.
The queue is not thread-safe: it belongs to one event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Per-key retry delays: `base * factor ** (failures - 1)`, at most `cap` seconds."""

    base: float = 0.2
    factor: float = 2.0
    cap: float = 60.0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base:
            raise ValueError(
                f"invalid backoff (base={self.base}, factor={self.factor}, cap={self.cap}): "
                "need base > 0, factor >= 1 and cap >= base"
            )

    def delay(self, failures: int) -> float:
        """The delay before retry number `failures` (1 for the first failure)."""
        if failures < 1:
            return 0.0
        # Cap the exponent first so a long-failing key cannot overflow the float.
        exponent = min(failures - 1, 64)
        return min(self.cap, self.base * self.factor**exponent)


class QueueState(Generic[K]):
    """The queue's bookkeeping with no clock and no waiting: every time is an argument."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self._ready: deque[K] = deque()
        self._queued: set[K] = set()  # in _ready, or processing and to be re-queued on done
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []  # heap of (due, seq, key)
        self._due: dict[K, float] = {}  # earliest pending due time per key
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}

    # -- adding -----------------------------------------------------------------------------

    def add(self, key: K) -> None:
        if key in self._queued:
            return
        self._queued.add(key)
        if key not in self._processing:
            self._ready.append(key)

    def add_after(self, key: K, delay: float, now: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = now + delay
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._seq), key))

    def add_rate_limited(self, key: K, now: float) -> float:
        """Count one more failure for `key` and queue it after its backoff; returns the delay."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = self.backoff.delay(failures)
        self.add_after(key, delay, now)
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    # -- taking -----------------------------------------------------------------------------

    def promote(self, now: float) -> None:
        """Move every delayed key whose time has come into the ready queue."""
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key = heapq.heappop(self._delayed)
            if self._due.get(key) != due:
                continue  # superseded by an earlier add_after
            del self._due[key]
            self.add(key)

    def pop(self, now: float) -> K | None:
        """The next key to process (now marked processing), or None when none is ready."""
        self.promote(now)
        if not self._ready:
            return None
        key = self._ready.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """A worker finished `key`; if it was queued again meanwhile, it is ready again."""
        self._processing.discard(key)
        if key in self._queued:
            self._ready.append(key)

    def next_due(self) -> float | None:
        """When the earliest delayed key becomes ready, if any is delayed."""
        while self._delayed and self._due.get(self._delayed[0][2]) != self._delayed[0][0]:
            heapq.heappop(self._delayed)
        return self._delayed[0][0] if self._delayed else None

    # -- looking ----------------------------------------------------------------------------

    def ready_count(self) -> int:
        return len(self._ready)

    def delayed_count(self) -> int:
        return len(self._due)

    def is_processing(self, key: K) -> bool:
        return key in self._processing


class QueueShutDown(Exception):
    """Raised by `WorkQueue.get` once the queue is shut down: the worker should return."""


class WorkQueue(Generic[K]):
    """`QueueState` for asyncio workers: `get` waits for a ready key or a delay to expire."""

    def __init__(self, *, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._state: QueueState[K] = QueueState(backoff)
        self._clock = clock
        self._changed = asyncio.Event()
        self._shut_down = False

    def add(self, key: K) -> None:
        self._state.add(key)
        self._changed.set()

    def add_after(self, key: K, delay: float) -> None:
        self._state.add_after(key, delay, self._clock())
        self._changed.set()

    def add_rate_limited(self, key: K) -> float:
        delay = self._state.add_rate_limited(key, self._clock())
        self._changed.set()
        return delay

    def forget(self, key: K) -> None:
        self._state.forget(key)

    def failures(self, key: K) -> int:
        return self._state.failures(key)

    def done(self, key: K) -> None:
        self._state.done(key)
        self._changed.set()

    def shutdown(self) -> None:
        """Wake every waiting worker with `QueueShutDown`; later `get`s raise it at once."""
        self._shut_down = True
        self._changed.set()

    def __len__(self) -> int:
        return self._state.ready_count() + self._state.delayed_count()

    async def get_batch(self, limit: int) -> list[K]:
        """Wait for one ready key, then take every other ready key too (at most `limit`), each
        marked processing: for a controller that handles many keys in one pass. Every key
        taken must be given back with `done`."""
        keys = [await self.get()]
        while len(keys) < limit:
            key = self._state.pop(self._clock())
            if key is None:
                break
            keys.append(key)
        return keys

    async def get(self) -> K:
        while True:
            if self._shut_down:
                raise QueueShutDown()
            key = self._state.pop(self._clock())
            if key is not None:
                if self._state.ready_count():
                    self._changed.set()  # let another waiting worker take the next one
                return key
            self._changed.clear()
            due = self._state.next_due()
            timeout = None if due is None else max(0.0, due - self._clock())
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass
