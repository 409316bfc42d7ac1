"""The cyclic garbage collector's young-generation threshold while a gateway serves.

Why: every request in flight holds a few dozen objects the collector tracks (aiohttp's request
and response, header maps, futures, the handler's coroutine frames). With CPython's default
threshold of 700, 64 requests in flight are enough to start a young collection every ~20
requests. Each one walks the live in-flight objects, finds almost nothing to free (the proxy
makes no reference cycles: a run with `gc.DEBUG_SAVEALL` saved only the sockets of closed
connections), and promotes them, so they fill the older generations and trigger full walks of
the whole heap (~60,000 objects in a gateway process). Measured under the benchmark at
concurrency 64 (`gc.callbacks` timing the collections with `time.thread_time`): 39 µs of the
gateway's ~400 µs of CPU per request went to the collector; with the young threshold at
50,000 it ran three times in 55,000 requests, and the CPU per request fell by about 45 µs.

What this changes: cyclic garbage is still collected, just after 50,000 net new tracked objects
instead of 700, so a process holds at most that many objects of dead cycles a little longer.
Reference counting, which frees everything the proxy allocates, is untouched. A young
collection, when it does run, walks more objects (a pause of milliseconds, rarely).

The setting is process-wide, as the collector is. `GcPolicy.hold()` raises the threshold only
when it is lower (a process that chose a higher one keeps it) and `release()` restores the
previous value once the last holder in the process lets go, unless someone else changed it
meanwhile. Several gateways in one process (tests) share one raise.
"""

from __future__ import annotations

import gc
import threading

DEFAULT_YOUNG_THRESHOLD = 50_000


class GcPolicy:
    """Reference-counted holds on a raised young-generation threshold (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: tuple[int, int, int] | None = None
        self._applied: tuple[int, int, int] | None = None

    def hold(self, young_threshold: int | None) -> bool:
        """Raise the young threshold to `young_threshold` (None or 0: leave it). Returns
        whether this call took a hold, to pass to `release`."""
        if not young_threshold:
            return False
        if young_threshold < 0:
            raise ValueError(f"gc young threshold must be positive or None, got {young_threshold}")
        with self._lock:
            current = gc.get_threshold()
            if self._holders == 0:
                self._saved = current
                self._applied = None
            if current[0] < young_threshold:
                self._applied = (young_threshold, current[1], current[2])
                gc.set_threshold(*self._applied)
            self._holders += 1
            return True

    def release(self, held: bool) -> None:
        """Let go of a hold; the last one restores the threshold found by the first."""
        if not held:
            return
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders:
                return
            if self._saved is not None and self._applied is not None and gc.get_threshold() == self._applied:
                gc.set_threshold(*self._saved)
            self._saved = self._applied = None


PROCESS_GC = GcPolicy()
"""The one policy of this process: the collector it governs is process-wide too."""
