"""The manager on its own thread and loop: reconciles run off the caller's thread, a blocking
reconcile leaves the caller's loop free, drivers close there after the manager, failures reach
the caller, and stop() always ends the thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from laneway.api.kinds import ModelCache
from laneway.api.meta import ObjectKey
from laneway.control.base import KeyMapper, Result
from laneway.control.manager import Manager, ManagerOptions
from laneway.control.queue import Backoff
from laneway.control.threaded import ManagerThread
from laneway.store.memory import MemoryStore

FAST = ManagerOptions(
    lease_ttl=1.0,
    renew_interval=0.05,
    renew_deadline=0.5,
    retry_interval=0.05,
    backoff=Backoff(base=0.01, factor=2, cap=0.05),
)


def cache(name: str) -> ModelCache:
    return ModelCache.model_validate(
        {"metadata": {"name": name, "namespace": "ml"}, "spec": {"source": "Local", "local": {"path": "/models/x"}}}
    )


class Blocking:
    """Reconciles by blocking its thread (as a store call does) until released."""

    name = "blocking"
    kind = "ModelCache"

    def __init__(self) -> None:
        self.watches: dict[str, KeyMapper] = {}
        self.threads: set[int] = set()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def reconcile(self, key: ObjectKey) -> Result:
        self.threads.add(threading.get_ident())
        self.entered.set()
        self.release.wait(10)  # blocks the manager's loop, on purpose
        return Result()


class Drivers:
    def __init__(self, controller: Blocking) -> None:
        self.closed_on: int | None = None
        self.controller = controller

    async def close(self) -> None:
        self.closed_on = threading.get_ident()


def test_reconciles_block_only_the_managers_own_loop() -> None:
    asyncio.run(_test_reconciles_block_only_the_managers_own_loop())


async def _test_reconciles_block_only_the_managers_own_loop() -> None:
    store = MemoryStore()
    store.create(cache("a"))
    controller = Blocking()
    drivers = Drivers(controller)
    runner = ManagerThread(Manager(store, [controller], identity="t", options=FAST), drivers=drivers)
    finished = runner.start()
    try:
        assert await asyncio.to_thread(controller.entered.wait, 10)
        # The manager's loop is stuck in a blocking reconcile; this loop still serves.
        assert await asyncio.wait_for(asyncio.sleep(0, result="served"), 5) == "served"
        assert not finished.done()
        assert threading.get_ident() not in controller.threads
    finally:
        controller.release.set()
        await runner.stop(timeout=10)
    assert finished.done() and finished.exception() is None
    assert drivers.closed_on in controller.threads  # closed on the manager's thread, after it stopped


class Failing:
    async def run(self, stop: asyncio.Event) -> None:
        raise RuntimeError("lease table is gone")


def test_a_failing_manager_reaches_the_caller() -> None:
    asyncio.run(_test_a_failing_manager_reaches_the_caller())


async def _test_a_failing_manager_reaches_the_caller() -> None:
    runner = ManagerThread(Failing(), drivers=None)  # type: ignore[arg-type]
    finished = runner.start()
    with pytest.raises(RuntimeError, match="lease table is gone"):
        await asyncio.wait_for(finished, 10)
    await runner.stop(timeout=10)  # stopping a finished runner is harmless


class Stubborn:
    """Ignores the stop event; only cancellation ends it."""

    def __init__(self) -> None:
        self.cancelled = False

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def test_stop_cancels_a_manager_that_does_not_stop_and_still_closes_drivers() -> None:
    asyncio.run(_test_stop_cancels_a_manager_that_does_not_stop_and_still_closes_drivers())


async def _test_stop_cancels_a_manager_that_does_not_stop_and_still_closes_drivers() -> None:
    manager: Any = Stubborn()
    closed: list[bool] = []

    class Closing:
        async def close(self) -> None:
            closed.append(True)

    runner = ManagerThread(manager, drivers=Closing())
    finished = runner.start()
    await runner.stop(timeout=0.2)
    assert manager.cancelled and closed == [True]
    assert finished.cancelled()
    assert not runner._thread.is_alive()
