"""Run the controller manager on an event loop of its own, in a thread.

Why: controllers call the store directly from their coroutines, and every store call blocks
(SQLite takes a lock, parses documents, fsyncs each commit; the manager's list and resync
parse every object of every kind). Under `laneway up` the API server and the gateway share
the main event loop, so on that loop each of those calls would stall every request in
flight: measured here, a first sync of ~70 objects held the loop for up to ~160 ms, and a
resync of a large fleet would hold it for longer. On a loop of its own the manager can block
only itself; the store is thread-safe (one lock per connection) and the manager and the other
parts meet only through it, so nothing else has to change.

What runs on the manager's loop: `Manager.run`, every controller, and the drivers the
controllers use (their engine processes and sessions belong to that loop), which are closed
there after the manager stops, so every engine is stopped before the thread ends.

Limits: a controller that never yields still stalls the other controllers (not the API or
the gateway); `stop` waits `timeout` seconds for a clean stop, then cancels the manager.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from contextlib import suppress
from typing import Any, Protocol

from laneway.control.manager import Manager

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 30.0


class Closable(Protocol):
    async def close(self) -> None: ...


class ManagerThread:
    """One manager (and the drivers it uses) on a dedicated thread and event loop.

    `start()` returns an asyncio future, on the caller's loop, that completes when the manager
    ends (with its exception if it failed); `stop()` ends it from the caller's loop.
    """

    def __init__(self, manager: Manager, *, drivers: Closable | None = None, name: str = "laneway-controllers") -> None:
        self._manager = manager
        self._drivers = drivers
        self._started = threading.Event()
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._main: asyncio.Task[Any] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> asyncio.Future[None]:
        """Start the thread; returns once its loop runs (or the thread failed to start one)."""
        self._thread.start()
        self._started.wait()
        return asyncio.wrap_future(self._finished)

    async def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Ask the manager to stop, wait up to `timeout` s, then cancel it; the drivers are
        closed on the manager's loop either way. Never raises: stopping must go on."""
        self._call_soon(lambda: self._stop.set() if self._stop is not None else None)
        finished = asyncio.wrap_future(self._finished)
        try:
            await asyncio.wait_for(asyncio.shield(finished), timeout)
        except TimeoutError:
            log.warning("the controller manager did not stop within %.0f s; cancelling it", timeout)
            self._call_soon(lambda: self._main.cancel() if self._main is not None else None)
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(finished, return_exceptions=True), timeout)
        except Exception:
            pass
        await asyncio.to_thread(self._thread.join, timeout)

    def _call_soon(self, callback: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with suppress(RuntimeError):  # the loop already closed: the thread is done
            loop.call_soon_threadsafe(callback)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except asyncio.CancelledError:
            self._finished.cancel()  # cancelled by stop() after its timeout
        except BaseException as exc:
            if not self._finished.done():
                self._finished.set_exception(exc)
        else:
            if not self._finished.done():
                self._finished.set_result(None)
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._main = asyncio.current_task()
        self._started.set()
        try:
            await self._manager.run(self._stop)
        finally:
            if self._drivers is not None:
                await self._drivers.close()
