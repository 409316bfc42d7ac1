"""The coarse deadlines that bound the wait for upstream response headers."""

from __future__ import annotations

import asyncio

import pytest

from laneway.gateway.deadlines import Deadlines


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_wait_past_its_deadline_is_cancelled_and_reported_as_expired() -> None:
    clock = Clock()
    d = Deadlines(resolution=60, clock=clock)  # the sweeper never runs: the test drives it

    async def waiter() -> str:
        token = d.arm(5.0)
        try:
            await asyncio.sleep(30)
            return "finished"
        except asyncio.CancelledError:
            return "expired" if d.expired(token) else "cancelled"
        finally:
            d.disarm(token)

    async def go() -> tuple[str, int, int]:
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        clock.now += 4.9
        early = d.fire_due()
        clock.now += 0.2
        late = d.fire_due()
        result = await task
        assert not task.cancelling()  # the deadline's cancellation was withdrawn
        return result, early, late

    assert asyncio.run(go()) == ("expired", 0, 1)
    assert len(d) == 0


def test_a_caller_cancelling_is_not_taken_for_the_deadline() -> None:
    d = Deadlines(resolution=60, clock=Clock())

    async def waiter() -> None:
        token = d.arm(5.0)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            assert not d.expired(token)
            raise
        finally:
            d.disarm(token)

    async def go() -> None:
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert len(d) == 0


def test_the_sweeper_fires_within_one_resolution_and_stops_cleanly() -> None:
    async def go() -> bool:
        d = Deadlines(resolution=0.02)
        d.start()
        token = d.arm(0.01)
        try:
            await asyncio.wait_for(asyncio.sleep(5), 2)  # the outer bound only guards the test
            return False
        except asyncio.CancelledError:
            return d.expired(token)
        finally:
            d.disarm(token)
            await d.stop()

    assert asyncio.run(go()) is True


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution must be positive"):
        Deadlines(resolution=0)
