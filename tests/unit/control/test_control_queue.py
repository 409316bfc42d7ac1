"""The work queue's semantics with plain data (QueueState) and its asyncio wrapper."""

from __future__ import annotations

import asyncio

import pytest

from laneway.control.queue import Backoff, QueueShutDown, QueueState, WorkQueue


def drain(q: QueueState[str], now: float = 0.0) -> list[str]:
    out = []
    while (key := q.pop(now)) is not None:
        out.append(key)
        q.done(key)
    return out


def test_a_key_queued_twice_while_waiting_is_processed_once() -> None:
    q: QueueState[str] = QueueState()
    q.add("a")
    q.add("b")
    q.add("a")
    assert drain(q) == ["a", "b"]


def test_a_key_queued_while_processing_is_not_handed_out_again_until_done() -> None:
    q: QueueState[str] = QueueState()
    q.add("a")
    assert q.pop(0) == "a"
    q.add("a")
    assert q.pop(0) is None, "a second worker must not get a key that is being processed"
    q.done("a")
    assert q.pop(0) == "a", "the change that arrived during processing is processed after"
    q.done("a")
    assert q.pop(0) is None


def test_done_without_a_new_add_does_not_requeue() -> None:
    q: QueueState[str] = QueueState()
    q.add("a")
    q.pop(0)
    q.done("a")
    assert q.pop(0) is None


def test_add_after_waits_for_its_time_and_the_earliest_delay_wins() -> None:
    q: QueueState[str] = QueueState()
    q.add_after("a", 10, now=0)
    q.add_after("a", 3, now=0)
    q.add_after("a", 20, now=0)
    assert q.next_due() == 3
    assert q.pop(2.9) is None
    assert q.pop(3.0) == "a"
    q.done("a")
    assert q.pop(100) is None, "superseded delays must not fire again"
    assert q.next_due() is None


def test_add_after_with_no_delay_is_an_add() -> None:
    q: QueueState[str] = QueueState()
    q.add_after("a", 0, now=5)
    assert q.pop(5) == "a"


def test_a_delayed_key_already_queued_is_not_duplicated() -> None:
    q: QueueState[str] = QueueState()
    q.add("a")
    q.add_after("a", 1, now=0)
    assert drain(q, now=2) == ["a"]


def test_rate_limited_delays_grow_per_key_up_to_the_cap_and_forget_resets() -> None:
    q: QueueState[str] = QueueState(Backoff(base=1, factor=2, cap=5))
    delays = [q.add_rate_limited("a", now=0) for _ in range(5)]
    assert delays == [1, 2, 4, 5, 5]
    assert q.failures("a") == 5
    assert q.add_rate_limited("b", now=0) == 1, "backoff is per key"
    q.forget("a")
    assert q.failures("a") == 0
    assert q.add_rate_limited("a", now=0) == 1


def test_backoff_delay_values_and_overflow_safety() -> None:
    b = Backoff(base=0.5, factor=3, cap=60)
    assert b.delay(0) == 0
    assert b.delay(1) == 0.5
    assert b.delay(2) == 1.5
    assert b.delay(10_000) == 60


@pytest.mark.parametrize("kwargs", [{"base": 0}, {"factor": 0.5}, {"base": 2, "cap": 1}])
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)


def test_counts() -> None:
    q: QueueState[str] = QueueState()
    q.add("a")
    q.add_after("b", 5, now=0)
    assert (q.ready_count(), q.delayed_count()) == (1, 1)
    q.pop(0)
    assert q.is_processing("a")


# -- asyncio wrapper ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_get_waits_for_an_add() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        assert not getter.done()
        q.add("a")
        assert await asyncio.wait_for(getter, 5) == "a"

    asyncio.run(main())


def test_get_returns_a_delayed_key_once_the_clock_passes_it() -> None:
    async def main() -> None:
        clock = FakeClock()
        q: WorkQueue[str] = WorkQueue(clock=clock)
        q.add_after("a", 30)
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0.01)
        assert not getter.done()
        clock.now = 31
        q.add("unrelated-wakeup")  # any change re-checks the due times
        got = {await asyncio.wait_for(getter, 5), await asyncio.wait_for(q.get(), 5)}
        assert got == {"a", "unrelated-wakeup"}

    asyncio.run(main())


def test_shutdown_wakes_waiting_workers() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        getters = [asyncio.create_task(q.get()) for _ in range(3)]
        await asyncio.sleep(0)
        q.shutdown()
        for g in getters:
            with pytest.raises(QueueShutDown):
                await asyncio.wait_for(g, 5)

    asyncio.run(main())


def test_concurrent_workers_never_share_a_key() -> None:
    async def main() -> None:
        q: WorkQueue[int] = WorkQueue()
        active: set[int] = set()
        seen: list[int] = []

        async def worker() -> None:
            while True:
                try:
                    key = await q.get()
                except QueueShutDown:
                    return
                assert key not in active
                active.add(key)
                seen.append(key)
                await asyncio.sleep(0)
                if len(seen) < 30:
                    q.add(key)  # re-queued while processing: must wait for done
                active.discard(key)
                q.done(key)

        workers = [asyncio.create_task(worker()) for _ in range(4)]
        for k in range(3):
            q.add(k)
        while len(seen) < 30:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        q.shutdown()
        await asyncio.wait_for(asyncio.gather(*workers), 5)
        assert set(seen) == {0, 1, 2}

    asyncio.run(main())
