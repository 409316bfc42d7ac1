"""The gateway's waiting room for scale from zero: bounded in size and in time.

A request to a service that can scale from zero but has no routable endpoint waits here
(counted as queued, which is what makes the autoscaler add the first replica) until the
routing table shows an endpoint for it, then is served as usual. If no replica is ready within
`timeout` seconds, or the room for that service is full, the caller gets a 503 that says the
model is starting and when to retry. The gateway wakes waiters on every table swap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from laneway.api.meta import ObjectKey

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_WAITING = 256


@dataclass(frozen=True)
class HoldOutcome:
    ready: bool
    message: str = ""


class ColdStartHold:
    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, max_waiting: int = DEFAULT_MAX_WAITING) -> None:
        self.timeout = timeout
        self.max_waiting = max_waiting
        self._changed = asyncio.Event()
        self._waiting: dict[ObjectKey, int] = {}

    def notify(self) -> None:
        """The routing table changed: let every waiter look again."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait(self, key: ObjectKey, routable: Callable[[], bool], *, clock: Callable[[], float]) -> HoldOutcome:
        if self._waiting.get(key, 0) >= self.max_waiting:
            return HoldOutcome(False, f"Model service {key} is starting and {self.max_waiting} requests already wait for it; retry in a few seconds.")
        self._waiting[key] = self._waiting.get(key, 0) + 1
        deadline = clock() + self.timeout
        try:
            while not routable():
                left = deadline - clock()
                if left <= 0:
                    return HoldOutcome(False, f"Model service {key} is starting (scaling from zero) and no replica became ready within {self.timeout:g}s; retry shortly.")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass
            return HoldOutcome(True)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
