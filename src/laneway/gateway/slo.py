"""Predicting time to first token, to overflow before the SLO breaks rather than after. Pure.

For a request about to go to a Primary endpoint, the wait before its prefill starts is about
the requests ahead of it divided by the rate the endpoint finishes them:

    predicted TTFT = ahead / recent completion rate + the endpoint's recent unqueued TTFT

`ahead` is the engine's own waiting queue from a fresh reading (`load.fresh`), the only figure
that says a request will queue inside the engine; without a reading nothing is predicted (the
gateway's in-flight count cannot tell running from waiting). The completion rate is counted
by the gateway over the last `RATE_WINDOW` seconds (`CompletionRate`); the unqueued TTFT is the
smallest TTFT this gateway saw from the endpoint in that window. When the prediction exceeds
the service's `slo.p95TimeToFirstToken`, the proxy skips the Primary tier for this request
and sends it to the next tier inside the data boundary at once (see `proxy._select`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

RATE_WINDOW = 10.0
"""Seconds of completions the rate is counted over."""
_BUCKET = 1.0


@dataclass
class CompletionRate:
    """Completions per second over the last `RATE_WINDOW` seconds, in one-second buckets, and
    the smallest TTFT seen in that window. O(1) per completion."""

    _buckets: deque[tuple[float, int, float]] = field(default_factory=deque)

    def record(self, now: float, ttft: float | None = None) -> None:
        start = now - now % _BUCKET
        low = ttft if ttft is not None and ttft > 0 else float("inf")
        if self._buckets and self._buckets[-1][0] == start:
            _, n, best = self._buckets[-1]
            self._buckets[-1] = (start, n + 1, min(best, low))
        else:
            self._buckets.append((start, 1, low))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - RATE_WINDOW:
            self._buckets.popleft()

    def per_second(self, now: float) -> float:
        self._trim(now)
        if not self._buckets:
            return 0.0
        total = sum(n for _, n, _ in self._buckets)
        span = max(_BUCKET, now - self._buckets[0][0])
        return total / span

    def floor_ttft(self, now: float) -> float:
        self._trim(now)
        best = min((b for _, _, b in self._buckets), default=float("inf"))
        return 0.0 if best == float("inf") else best


@dataclass(frozen=True)
class Prediction:
    seconds: float
    ahead: int
    rate: float


def predict_ttft(*, ahead: int, rate: float, floor: float) -> Prediction | None:
    """The predicted TTFT of one more request, or None when nothing can be said (no queue, or
    no completions seen to measure a rate by)."""
    if ahead <= 0:
        return None
    if rate <= 0.0:
        return None
    return Prediction(floor + ahead / rate, ahead, rate)
