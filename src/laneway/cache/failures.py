"""Which failed attempts of a retried fetch are worth a WARNING.

An offline machine retries a cache every 30 s; one WARNING per attempt buries the log under
the same line. `RepeatedFailures` tracks one streak per key (a fetch): the first failure with a
given message is a WARNING; the same message again is a WARNING only on the 2nd, 4th, 8th, ...
attempt, saying how many in a row, and DEBUG otherwise; a different message starts a new
streak. A success ends the streak and says how many attempts failed before it. Nothing here
decides what the status says: the stager keeps reporting every failure there.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass
class Streak:
    message: str
    count: int


@dataclass(frozen=True)
class Verdict:
    """What to log for one failure: `warn` (else debug), and the line (the count included)."""

    warn: bool
    line: str


class RepeatedFailures:
    """One streak of identical failures per key; thread-safe (hydration threads report here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streaks: dict[Hashable, Streak] = {}

    def failed(self, key: Hashable, message: str) -> Verdict:
        with self._lock:
            streak = self._streaks.get(key)
            if streak is None or streak.message != message:
                self._streaks[key] = Streak(message, 1)
                return Verdict(True, message)
            streak.count += 1
            count = streak.count
        again = f"{message} (failed {count} times in a row; next logged at {1 << count.bit_length()})"
        return Verdict(count & (count - 1) == 0, again)

    def succeeded(self, key: Hashable) -> int:
        """End the key's streak; returns how many attempts had failed in a row (0: none)."""
        with self._lock:
            streak = self._streaks.pop(key, None)
        return streak.count if streak is not None else 0
