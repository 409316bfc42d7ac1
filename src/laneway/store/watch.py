"""Follow the store's revision stream from asyncio, without blocking the event loop.

`watch(store, kinds=..., since=...)` yields every write after `since`, oldest first, forever
(until the consumer stops iterating). Store calls are blocking, so each one runs on a small
pool of threads owned by this module: `events_since` to read a batch, then
`wait_for_revision` with a short timeout to sleep until the next write. A short timeout keeps a
cancelled watch from holding a thread for long. A dedicated pool (rather than the loop's
default executor) means many idle watchers never starve the store calls of API handlers.

Resuming. The revision of the last event yielded is where a consumer resumes. When the stream
has moved past `since` so far that the store compacted it, `Gone` is raised through: list
again and watch from the list's revision, as a Kubernetes informer does.

Filtering by kind does not stall: when no event of the watched kinds arrives, the watch still
advances its position to the store's revision, so a quiet kind is never compacted out from
under its watcher.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from laneway.store.base import Store, WatchEvent

WAIT_TIMEOUT = 1.0
BATCH = 500
_MAX_WATCH_THREADS = 64

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _watch_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_MAX_WATCH_THREADS, thread_name_prefix="laneway-watch")
        return _executor


def _read_batch(store: Store, since: int, kinds: frozenset[str] | None, batch: int) -> tuple[int, list[WatchEvent]]:
    # The revision is read first: if the batch then comes back short, nothing of the watched
    # kinds was written in (since, current], so the position may move to `current`.
    current = store.revision()
    return current, store.events_since(since, kinds=kinds, limit=batch)


async def watch(
    store: Store,
    *,
    kinds: frozenset[str] | None,
    since: int,
    wait_timeout: float = WAIT_TIMEOUT,
    batch: int = BATCH,
) -> AsyncIterator[WatchEvent]:
    """Yield the writes after revision `since` of the given kinds (all kinds when None)."""
    if since < 0:
        raise ValueError(f"a watch starts at a revision >= 0, got {since}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    loop = asyncio.get_running_loop()
    executor = _watch_executor()
    position = since
    while True:
        current, events = await loop.run_in_executor(executor, _read_batch, store, position, kinds, batch)
        for event in events:
            position = event.revision
            yield event
        if len(events) == batch:
            continue
        position = max(position, current)
        await loop.run_in_executor(executor, store.wait_for_revision, position, wait_timeout)
