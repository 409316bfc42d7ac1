"""Waking waiters when the revision moves: in-process notification plus a cheap poll.

Writers in this process call `publish` after they commit, which wakes waiters at once. Writers
in other processes sharing the same file cannot reach this condition variable, so a waiter also
re-reads the revision every `poll_interval` seconds (one indexed row read). A waiter therefore
sees a local write immediately and a remote one within `poll_interval`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RevisionSignal:
    def __init__(self, *, poll_interval: float | None) -> None:
        self._cond = threading.Condition()
        self._latest = 0
        self._poll_interval = poll_interval

    def publish(self, revision: int) -> None:
        with self._cond:
            if revision > self._latest:
                self._latest = revision
            self._cond.notify_all()

    def wait(self, after: int, timeout: float, read_current: Callable[[], int]) -> int:
        """Block until `read_current()` passes `after` or `timeout` seconds go by; return it."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            current = read_current()
            if current > after:
                return current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return current
            step = remaining if self._poll_interval is None else min(remaining, self._poll_interval)
            with self._cond:
                if self._latest <= max(after, current):
                    self._cond.wait(step)
