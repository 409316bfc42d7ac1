"""Tunables of one gateway process, with the defaults a production fleet wants.

Tests shrink the time constants (ejection, status interval) so behaviour shows in
milliseconds; nothing else reads a global.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GatewayConfig:
    # Retries (before the first byte only).
    max_attempts: int = 3
    """Upstream attempts per request, the first included."""
    shutdown_grace: float = 30.0
    """On stop: seconds requests in flight (streams included) may take to finish after the
    gateway stopped accepting new ones; what still runs then is cut."""
    retry_budget_ratio: float = 0.2
    """Retries allowed as a share of requests over `retry_budget_window` seconds."""
    retry_budget_min: int = 10
    """Retries always allowed per window, so a quiet gateway can still retry."""
    retry_budget_window: float = 10.0

    # Passive health.
    eject_after_failures: int = 3
    """Consecutive failures that eject an endpoint."""
    ejection_seconds: float = 10.0
    """First ejection; each failed probe doubles it, up to `max_ejection_seconds`."""
    max_ejection_seconds: float = 300.0

    # Upstream timeouts.
    connect_timeout: float = 5.0
    headers_timeout: float = 300.0
    """Longest wait for an upstream's response headers when the service sets no queueTimeout."""

    # Callers (slow clients).
    client_header_timeout: float = 20.0
    """Longest a connection may take to send a request's line and headers, counted from its
    first byte (or from the connection's start): a client that trickles headers (slowloris)
    is disconnected after this. Does not bound a response, however long it streams."""
    client_body_timeout: float = 120.0
    """Longest a request body may take to arrive in full once the headers are in; past it the
    caller gets 408 and the connection is closed."""
    client_keepalive_timeout: float = 75.0
    """Longest an idle keep-alive connection is held open between requests."""

    # Metering and status.
    status_interval: float = 5.0
    """Seconds between ModelService status writes (only written when changed)."""
    latency_window: float = 300.0
    """Seconds of samples the p95s in the service status cover."""
    max_samples: int = 4096
    heartbeat_ttl: float = 30.0
    """Seconds after its last heartbeat (renewed every status tick) that another gateway counts
    this one as gone and drops its figures from ModelService status; never under three status
    ticks (see `gateway.heartbeat`)."""

    # Limits.
    max_request_body_bytes: int = 32 * 1024 * 1024
    cold_start_timeout: float = 120.0
    """Longest a request waits for a service scaling from zero to get a ready replica."""
    rebuild_debounce: float = 0.05
    """Wait this long after a store change so a burst of writes yields one table rebuild."""

    # Engines (see `engine_watch`).
    engine_load_interval: float | None = 0.5
    """Seconds between scrapes of every engine's `/metrics` for its load (queue, running, KV
    use); None turns scraping and KV-event subscriptions off."""

    # Process.
    gc_young_threshold: int | None = 50_000
    """The cyclic collector's young-generation threshold while the gateway serves (None: leave
    the process's setting alone). See `gateway.gc_policy` for why and what it costs."""

    def __post_init__(self) -> None:
        for name in ("client_header_timeout", "client_body_timeout", "client_keepalive_timeout", "heartbeat_ttl"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"GatewayConfig.{name} must be a positive number of seconds, got {value!r}")
        if self.gc_young_threshold is not None and self.gc_young_threshold < 0:
            raise ValueError(
                f"GatewayConfig.gc_young_threshold must be a positive number of objects or None, got {self.gc_young_threshold}"
            )
