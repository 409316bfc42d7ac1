"""The gateway's waiting room for scale from zero: bounded in size and time, woken by table swaps."""

from __future__ import annotations

import asyncio
import time

from laneway.api.meta import ObjectKey
from laneway.autoscale.hold import ColdStartHold

KEY = ObjectKey("ml", "chat")


def test_a_waiter_is_released_when_the_table_shows_an_endpoint() -> None:
    async def main() -> None:
        hold = ColdStartHold(timeout=30)
        ready = [False]
        waiter = asyncio.create_task(hold.wait(KEY, lambda: ready[0], clock=time.monotonic))
        await asyncio.sleep(0)
        assert not waiter.done()
        ready[0] = True
        hold.notify()
        assert (await asyncio.wait_for(waiter, 5)).ready

    asyncio.run(main())


def test_the_wait_is_bounded_in_time_and_says_the_model_is_starting() -> None:
    async def main() -> None:
        outcome = await ColdStartHold(timeout=0.05).wait(KEY, lambda: False, clock=time.monotonic)
        assert not outcome.ready and "is starting" in outcome.message and "retry" in outcome.message

    asyncio.run(main())


def test_a_full_room_refuses_at_once_and_frees_its_places() -> None:
    async def main() -> None:
        hold = ColdStartHold(timeout=30, max_waiting=2)
        waiters = [asyncio.create_task(hold.wait(KEY, lambda: False, clock=time.monotonic)) for _ in range(2)]
        await asyncio.sleep(0)
        refused = await asyncio.wait_for(hold.wait(KEY, lambda: False, clock=time.monotonic), 1)
        assert not refused.ready and "2 requests already wait" in refused.message
        other = asyncio.create_task(hold.wait(ObjectKey("ml", "other"), lambda: True, clock=time.monotonic))
        assert (await asyncio.wait_for(other, 1)).ready, "the bound is per service"
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert hold._waiting == {}, "a cancelled caller (client gone) gives its place back"

    asyncio.run(main())
