"""Provider errors with backoff, the same for every provisioner.

A convergence step that fails with a provider's error (a quota, a bad machine type, a missing
permission) must show the provider's own message in the cluster's status and must not be
retried in a tight loop: `Retrying.run` runs the blocking step in a worker thread, turns the
errors the provider names into `Failed` with that message, and refuses to call the provider
again before 5s, 10s, 20s, ... up to 5 minutes have passed. A success resets the count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from laneway.drivers.provisioning import ProvisionState

BACKOFF_FIRST = 5.0
BACKOFF_MAX = 300.0


class ProviderBlockError(ValueError):
    """The cluster's provider block or its credentials Secret is unusable; says what to fix."""


class StepFailed(Exception):
    """A provider reported a failure in a resource or operation (not as an API error), e.g. a
    GKE operation that ended with a quota error; the message is the provider's."""


@dataclass
class _Backoff:
    failures: int = 0
    retry_at: float = 0.0
    message: str = ""


@dataclass
class Retrying:
    """Per-cluster backoff around one provider's steps."""

    errors: tuple[type[Exception], ...]
    describe: Callable[[Exception], str]
    clock: Callable[[], float] = time.monotonic
    _backoff: dict[str, _Backoff] = field(default_factory=dict)

    async def run(self, cluster: str, step: Callable[[], ProvisionState]) -> ProvisionState:
        backoff = self._backoff.setdefault(cluster, _Backoff())
        now = self.clock()
        if backoff.failures and now < backoff.retry_at:
            return ProvisionState("Failed", f"{backoff.message}; retrying in {backoff.retry_at - now:.0f}s (attempt {backoff.failures + 1})")
        caught: tuple[type[Exception], ...] = (*self.errors, ProviderBlockError, StepFailed)
        try:
            state = await asyncio.to_thread(step)
        except caught as error:
            backoff.failures += 1
            backoff.message = str(error) if isinstance(error, (ProviderBlockError, StepFailed)) else self.describe(error)
            delay = min(BACKOFF_FIRST * 2 ** (backoff.failures - 1), BACKOFF_MAX)
            backoff.retry_at = now + delay
            return ProvisionState("Failed", f"{backoff.message}; retrying in {delay:.0f}s (attempt {backoff.failures + 1})")
        self._backoff.pop(cluster, None)
        return state

    def clear(self) -> None:
        self._backoff.clear()


def duration_text(seconds: float) -> str:
    """`45s`, `3m05s`: how long something has been waited on, for a status message."""
    whole = max(int(seconds), 0)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


@dataclass
class Waits:
    """How long each thing a provisioner waits on has been waited on, per cluster: a wait's
    clock starts the first time it is reported and stops when a call no longer reports it."""

    clock: Callable[[], float] = time.monotonic
    _since: dict[str, dict[str, float]] = field(default_factory=dict)

    def timed(self, cluster: str, waits: list[str]) -> list[str]:
        """Each wait with how long it has lasted (`node group gpu (2 x g5.xlarge) to be created, 2m10s`)."""
        now = self.clock()
        before = self._since.get(cluster, {})
        current = {w: before.get(w, now) for w in waits}
        self._since[cluster] = current
        return [f"{w}, {duration_text(now - current[w])}" for w in waits]

    def forget(self, cluster: str) -> None:
        self._since.pop(cluster, None)
