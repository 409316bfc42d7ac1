"""Per-endpoint live state: requests in flight, passive health, and the engine's own load.

Passive health is an outlier detector in the spirit of Envoy's: an endpoint that fails
`eject_after_failures` times in a row (connection refused, reset, or a 5xx) is ejected for
`ejection_seconds`. When that time is up it is not trusted at once: exactly one request is let
through as a probe. A probe that succeeds returns the endpoint; one that fails ejects it again
for twice as long (up to a cap). The probe is a real request, so the proxy's retry covers a
failed probe and the caller never sees it.

The state lives per gateway process, keyed by the endpoint's identity, and outlives routing
table swaps, so an edit of a service does not forget that an endpoint is failing.

Balancing policies read it through `EndpointView` (read-only); only the proxy and the health
bookkeeping here write it. `load` is the slot for what the engine itself reports (queue depth,
running requests, KV-cache use, scraped from its metrics): None until something fills it, and a
policy must choose sensibly without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from laneway.gateway.config import GatewayConfig
from laneway.gateway.slo import CompletionRate

if TYPE_CHECKING:
    from laneway.gateway.kv_index import KVBlocks


@dataclass(frozen=True)
class EngineLoad:
    """One reading of an engine's own load, as its metrics report it (vLLM's
    `vllm:num_requests_waiting`, `vllm:num_requests_running`, `vllm:kv_cache_usage_perc`; the
    simulator and llama.cpp expose equivalents). A figure the engine does not publish is None.
    `observed_at` is the gateway clock's reading when scraped, so a policy can ignore stale data."""

    observed_at: float
    waiting: int | None = None
    running: int | None = None
    kv_cache_usage: float | None = None
    """Fraction of the KV cache in use, 0..1."""


class EndpointView(Protocol):
    """What a balancing policy may read of one endpoint's live state, and nothing it may write."""

    @property
    def in_flight(self) -> int: ...

    @property
    def load(self) -> EngineLoad | None: ...

    @property
    def kv(self) -> KVBlocks | None: ...

    def available(self, now: float) -> bool: ...

    def saturated(self, max_in_flight: int | None, now: float | None = None) -> bool: ...


@dataclass
class EndpointState:
    in_flight: int = 0
    consecutive_failures: int = 0
    ejected_until: float = 0.0
    ejection_seconds: float = 0.0
    probing: bool = False
    """True from ejection until a probe succeeds: at most one request at a time may go."""
    total_requests: int = 0
    total_failures: int = 0
    load: EngineLoad | None = None
    """The engine's last reported load (see `EngineLoad`); None while nothing reports it."""
    concurrency: int | None = None
    """The most requests the engine was seen running at once while it was full (see
    `load.saturated_running`), since this gateway started: its measured concurrency; None
    while it has not been full."""
    kv: KVBlocks | None = None
    """The KV blocks the engine holds, from its KV-cache events (see `kv_index`); None while the
    gateway does not subscribe to them."""
    throttled_until: float = 0.0
    """Until when the endpoint counts as saturated because it answered 429 (its Retry-After,
    bounded): an upstream that says it is full is full, not failing."""
    completions: CompletionRate = field(default_factory=CompletionRate)
    """Requests this endpoint finished recently, for the TTFT prediction (`slo`)."""

    def available(self, now: float) -> bool:
        """Whether a new request may go here now (health only; saturation is separate)."""
        if not self.probing:
            return True
        return now >= self.ejected_until and self.in_flight == 0

    def saturated(self, max_in_flight: int | None, now: float | None = None) -> bool:
        """Full: at its `maxInFlight`, or (given the clock) still inside a 429's back-off."""
        if now is not None and now < self.throttled_until:
            return True
        return max_in_flight is not None and self.in_flight >= max_in_flight

    @property
    def ejected(self) -> bool:
        return self.probing

    def trusted(self, now: float) -> bool:
        """Available and with no failure since its last success: worth a retry before giving up
        on its tier (see `Proxy._fail_over`)."""
        return self.consecutive_failures == 0 and self.available(now)

    def on_success(self) -> None:
        self.consecutive_failures = 0
        self.probing = False
        self.ejection_seconds = 0.0

    def on_failure(self, now: float, config: GatewayConfig, *, refused: bool = False) -> None:
        """Count a failure. `refused`: nothing listens at the endpoint's address any more (its
        process died or was stopped), which ejects it at once rather than after
        `eject_after_failures`: no request should learn it again before the driver's own report
        takes the endpoint out of the table."""
        self.total_failures += 1
        self.consecutive_failures += 1
        if refused and not self.probing:
            self.consecutive_failures = max(self.consecutive_failures, config.eject_after_failures)
        if self.probing:
            self.ejection_seconds = min(max(self.ejection_seconds * 2, config.ejection_seconds), config.max_ejection_seconds)
            self.ejected_until = now + self.ejection_seconds
        elif self.consecutive_failures >= config.eject_after_failures:
            self.probing = True
            self.ejection_seconds = config.ejection_seconds
            self.ejected_until = now + self.ejection_seconds
