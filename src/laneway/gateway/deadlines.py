"""Coarse deadlines for many concurrent waits: one timer per sweep, not one per request.

Why: the proxy bounds every upstream attempt's wait for response headers (300 s by default).
`asyncio.timeout` does that with one timer handle per attempt, pushed onto the event loop's
heap and cancelled again a millisecond later; cancelled handles stay in the heap until the
loop compacts it, so a busy gateway keeps paying for thousands of dead timers. A bound of
minutes does not need sub-millisecond precision: `Deadlines` keeps the armed waits in a dict
(an insert and a delete per attempt) and one sweeper task wakes every `resolution` seconds,
cancelling the tasks whose deadline has passed.

The promise: a wait armed for `seconds` is cancelled no earlier than `seconds` and no later
than `seconds + resolution` after it was armed (plus event-loop lag). `expired(token)` tells the
waiter that the cancellation it caught was the deadline's and not its caller's, and undoes the
cancellation request the way `asyncio.timeout` does, so a client disconnect that arrives at
the same moment is still honoured. Short, precise bounds (a service's `queueTimeout`) keep using
`asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Wait:
    task: asyncio.Task[object]
    deadline: float
    cancelling: int
    """`task.cancelling()` when armed: cancellations requested before are not ours."""
    fired: bool = False


class Deadlines:
    """Owned by one proxy: `start()` runs the sweeper, `stop()` ends it."""

    def __init__(self, *, resolution: float, clock: Callable[[], float] = time.monotonic) -> None:
        if resolution <= 0:
            raise ValueError(f"resolution must be positive, got {resolution!r}")
        self._resolution = resolution
        self._clock = clock
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="gateway-deadlines")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
            self._sweeper = None
        self._waits.clear()

    def arm(self, seconds: float) -> int:
        """Bound the current task's wait by `seconds`; returns the token for `disarm`/`expired`."""
        task = asyncio.current_task()
        assert task is not None, "Deadlines.arm() must be called from a task"
        token = next(self._ids)
        self._waits[token] = _Wait(task, self._clock() + seconds, task.cancelling())
        return token

    def disarm(self, token: int) -> None:
        """The wait ended (either way); forget it. Safe to call more than once."""
        self._waits.pop(token, None)

    def expired(self, token: int) -> bool:
        """After catching CancelledError: True when the deadline caused it (and the task's
        cancellation request has been withdrawn), False when someone else cancelled the task."""
        wait = self._waits.pop(token, None)
        if wait is None or not wait.fired:
            return False
        return wait.task.uncancel() <= wait.cancelling

    def fire_due(self) -> int:
        """Cancel every armed task whose deadline has passed; returns how many (the sweeper's
        step, public so tests can drive it without waiting)."""
        now = self._clock()
        fired = 0
        for wait in list(self._waits.values()):
            if not wait.fired and wait.deadline <= now:
                wait.fired = True
                wait.task.cancel()
                fired += 1
        return fired

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._resolution)
            if self._waits:
                self.fire_due()

    def __len__(self) -> int:
        return len(self._waits)
