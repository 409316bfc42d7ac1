"""Metering: what every request cost, as Prometheus metrics and per-service summaries.

Each finished request is recorded once with its service, endpoint, tier, outcome, total time,
tokens and, for a stream only, its time to first token (the first body byte of an event
stream). A plain answer arrives whole, so it has a latency and no time to first token: counting
its first byte as one made a service that streams in 45 ms look like it broke a 1 s TTFT budget.

Outcomes are the HTTP status, or `stream_cut` for a stream whose engine broke off after the
status line went out (the caller got an error event; see `proxy`): a failure of its own, not
a 502 the caller never saw.

The Prometheus registry belongs to one gateway (no process-global state), served on the
gateway's `/metrics`, with counters since the gateway started. The token totals economics and
budgets price are different: a restarted gateway carries on from the totals its previous run
left in the store (`carry`, read by `gateway.carry` before the first request), with their
`since`, so a restart does not forget what a window already metered. The per-service summary is over
the sliding window it states (`requests`, `errors`, p95 latency and time to first token), plus
the lifetime totals (`requestsTotal`, `errorsTotal`) that a canary's judge takes differences of.
It is what the status writer puts on the ModelService and compares with its `slo`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.serving import ServiceSLO
from laneway.api.meta import ObjectKey

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


STREAM_CUT = "stream_cut"
"""The outcome of a stream its engine broke off after the status line (`Meter.record(cut=True)`)."""


class Sample(NamedTuple):
    """One successful request in the window (a tuple: one is made per request)."""

    at: float
    latency: float
    ttft: float | None
    """None for a plain (not streamed) answer: it has no first token to time."""


class EndpointTokenCount(NamedTuple):
    """Tokens metered through one endpoint of a service since the meter started."""

    tier: str
    prompt: int
    completion: int


class Outcome(NamedTuple):
    """One finished request in the window, whatever became of it."""

    at: float
    tier: str
    failed: bool


class _Series:
    """The metric children of one (service, endpoint, tier), looked up once and kept.

    `labels()` validates and joins its arguments on every call, which on the gateway's hot
    path costs more than the increments themselves; token children are made on first use so
    /metrics shows no zero token series for an endpoint that never reported usage."""

    __slots__ = ("codes", "completion", "completion_n", "cut", "labels", "latency", "prompt", "prompt_n", "ttft")

    def __init__(self, labels: tuple[str, str, str, str], latency: object, ttft: object) -> None:
        self.labels = labels
        self.latency = latency
        self.ttft = ttft
        self.codes: dict[int, object] = {}
        self.cut: object | None = None
        self.prompt: object | None = None
        self.completion: object | None = None
        self.prompt_n = 0
        self.completion_n = 0


@dataclass
class ServiceWindow:
    """Recent samples and outcomes of one service (or one of its entries), and its lifetime
    counts per tier."""

    samples: deque[Sample]
    outcomes: deque[Outcome] = field(default_factory=deque)
    requests_by_tier: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    entries: dict[str, ServiceWindow] = field(default_factory=dict)
    """The same figures per service entry (by `weights.entry_name`), for a canary's judge."""

    def add(self, tier: str, status: int, sample: Sample, *, cut: bool = False) -> None:
        self.requests_by_tier[tier] = self.requests_by_tier.get(tier, 0) + 1
        # Only the server side's failures: a caller's bad request, missing key or rate limit
        # (4xx, 499 for a caller who left) says nothing about the endpoint, and must not roll
        # back a canary. A cut stream is one.
        failed = cut or status >= 500
        if failed:
            self.errors += 1
        elif status < 400:
            self.samples.append(sample)
        self.outcomes.append(Outcome(sample.at, tier, failed))

    def count_failed(self, tier: str, at: float) -> None:
        """A failed attempt (retried elsewhere): counted against this entry, now and in total."""
        self.requests_by_tier[tier] = self.requests_by_tier.get(tier, 0) + 1
        self.errors += 1
        self.outcomes.append(Outcome(at, tier, True))

    def trim(self, edge: float) -> None:
        while self.samples and self.samples[0].at < edge:
            self.samples.popleft()
        while self.outcomes and self.outcomes[0].at < edge:
            self.outcomes.popleft()


@dataclass(frozen=True)
class ServiceSummary:
    requests_by_tier: dict[str, int]
    """Requests per tier within the window."""
    errors: int
    """Failed requests (5xx, cut streams, failed attempts) within the window."""
    samples: int
    p95_latency: float | None
    p95_ttft: float | None
    entries: Mapping[str, ServiceSummary] = field(default_factory=dict)
    """Per service entry, the same figures (their `entries` empty)."""
    requests_total: int = 0
    """Requests since the gateway started (what a canary judge takes differences of)."""
    errors_total: int = 0
    tokens: Mapping[str, EndpointTokenCount] = field(default_factory=dict)
    """Tokens per endpoint since `since` (seconds since the epoch), for economics."""
    since: float | None = None


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile (no interpolation: a value that was actually observed)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True)
class SLOVerdict:
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def judge_slo(slo: ServiceSLO | None, summary: ServiceSummary | None) -> SLOVerdict:
    """Compare the window's p95s with the service's budget. Pure."""
    if slo is None or (slo.p95_latency is None and slo.p95_time_to_first_token is None):
        return SLOVerdict("Unknown", "NoSLO", "the service sets no slo")
    if summary is None or summary.samples == 0:
        return SLOVerdict("Unknown", "NoTraffic", "no successful requests in the window yet")
    broken: list[str] = []
    if slo.p95_latency is not None and summary.p95_latency is not None:
        budget = parse_duration(slo.p95_latency)
        if summary.p95_latency > budget:
            broken.append(f"p95 latency {summary.p95_latency * 1000:.0f}ms exceeds the budget {slo.p95_latency}")
    if slo.p95_time_to_first_token is not None and summary.p95_ttft is not None:
        budget = parse_duration(slo.p95_time_to_first_token)
        if summary.p95_ttft > budget:
            broken.append(
                f"p95 time to first token {summary.p95_ttft * 1000:.0f}ms exceeds the budget {slo.p95_time_to_first_token}"
            )
    if broken:
        return SLOVerdict("False", "BudgetExceeded", "; ".join(broken))
    return SLOVerdict("True", "WithinBudget", f"p95s within the slo over {summary.samples} requests")


class Meter:
    """Records requests; owned by one gateway."""

    def __init__(self, *, clock: Callable[[], float], window: float, max_samples: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._window = window
        self._max = max_samples
        self._services: dict[ObjectKey, ServiceWindow] = {}
        labels = ("namespace", "service", "endpoint", "tier")
        self._requests = Counter(
            "laneway_gateway_requests", "Requests proxied, by outcome.", (*labels, "code"), registry=self.registry
        )
        self._latency = Histogram(
            "laneway_gateway_request_duration_seconds", "Total time of a request.", labels, buckets=_BUCKETS, registry=self.registry
        )
        self._ttft = Histogram(
            "laneway_gateway_time_to_first_token_seconds",
            "Time from the request to the first byte of a streamed (event-stream) response body; plain answers have none.",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._tokens = Counter(
            "laneway_gateway_tokens", "Tokens by kind (prompt, completion).", (*labels, "kind"), registry=self.registry
        )
        self.started_at = time.time()
        """Wall-clock time this meter began counting: its token totals are since then."""
        self._refused = Counter(
            "laneway_gateway_refusals", "Requests the gateway answered itself.", ("namespace", "service", "code"), registry=self.registry
        )
        self._failed = Counter(
            "laneway_gateway_failed_attempts",
            "Upstream attempts that failed before the response body and were retried elsewhere.",
            (*labels, "code"),
            registry=self.registry,
        )
        self._children: dict[tuple[ObjectKey, str, str], _Series] = {}
        self._since: dict[ObjectKey, float] = {}
        """Per service, when its token totals began, where a previous run's were carried over."""

    def _series(self, service: ObjectKey, endpoint: str, tier: str) -> _Series:
        hit = self._children.get((service, endpoint, tier))
        if hit is None:
            labels = (service.namespace, service.name, endpoint, tier)
            hit = self._children[(service, endpoint, tier)] = _Series(
                labels, self._latency.labels(*labels), self._ttft.labels(*labels)
            )
        return hit

    def record(
        self,
        service: ObjectKey,
        *,
        endpoint: str,
        tier: str,
        status: int,
        ttft: float | None,
        total: float,
        prompt_tokens: int,
        completion_tokens: int,
        entry: str = "",
        cut: bool = False,
    ) -> None:
        """One finished request. `ttft` only for a stream (None for a plain answer); `cut`: a
        stream its upstream broke off after the status line (outcome `stream_cut`)."""
        series = self._series(service, endpoint, tier)
        if cut:
            if series.cut is None:
                series.cut = self._requests.labels(*series.labels, STREAM_CUT)
            series.cut.inc()  # type: ignore[attr-defined]
        else:
            code = series.codes.get(status)
            if code is None:
                code = series.codes[status] = self._requests.labels(*series.labels, str(status))
            code.inc()  # type: ignore[attr-defined]
        series.latency.observe(total)  # type: ignore[attr-defined]
        if ttft is not None:
            series.ttft.observe(ttft)  # type: ignore[attr-defined]
        series.prompt_n += prompt_tokens
        series.completion_n += completion_tokens
        if prompt_tokens:
            if series.prompt is None:
                series.prompt = self._tokens.labels(*series.labels, "prompt")
            series.prompt.inc(prompt_tokens)  # type: ignore[attr-defined]
        if completion_tokens:
            if series.completion is None:
                series.completion = self._tokens.labels(*series.labels, "completion")
            series.completion.inc(completion_tokens)  # type: ignore[attr-defined]
        win = self._services.get(service)
        if win is None:
            win = self._services[service] = self._new_window()
        sample = Sample(self._clock(), total, ttft)
        win.add(tier, status, sample, cut=cut)
        if entry:
            sub = win.entries.get(entry)
            if sub is None:
                sub = win.entries[entry] = self._new_window()
            sub.add(tier, status, sample, cut=cut)

    def carry(self, service: ObjectKey, *, since: float, tokens: Mapping[str, EndpointTokenCount]) -> None:
        """Continue `service`'s token totals from a previous run of this gateway: its totals per
        endpoint, counted since `since`. Only the totals move (not the Prometheus counters,
        whose resets Prometheus handles itself); call before the first request."""
        if since >= self.started_at:
            return
        self._since[service] = since
        if service not in self._services:  # its status entry keeps the totals before any new request
            self._services[service] = self._new_window()
        for endpoint, count in tokens.items():
            series = self._series(service, endpoint, count.tier)
            series.prompt_n += count.prompt
            series.completion_n += count.completion

    def _new_window(self) -> ServiceWindow:
        return ServiceWindow(samples=deque(maxlen=self._max), outcomes=deque(maxlen=self._max * 4))

    def attempt_failed(self, service: ObjectKey, *, endpoint: str, tier: str, entry: str, code: str) -> None:
        """An attempt that failed and was retried elsewhere (a connection error, no headers in
        time, or a 429/5xx dropped for another endpoint). The caller's request is recorded
        once, by `record`, with its final outcome; the failure counts against the endpoint's
        entry here, so a failing canary shows its errors even when retries hide them."""
        self._failed.labels(service.namespace, service.name, endpoint, tier, code).inc()
        if not entry:
            return
        win = self._services.get(service)
        if win is None:
            win = self._services[service] = self._new_window()
        sub = win.entries.get(entry)
        if sub is None:
            sub = win.entries[entry] = self._new_window()
        sub.count_failed(tier, self._clock())

    def refused(self, service: ObjectKey | None, status: int) -> None:
        ns, svc = (service.namespace, service.name) if service else ("", "")
        self._refused.labels(ns, svc, str(status)).inc()

    def summary(self, service: ObjectKey) -> ServiceSummary | None:
        win = self._services.get(service)
        if win is None:
            return None
        edge = self._clock() - self._window
        entries = {name: _summarize(sub, edge) for name, sub in sorted(win.entries.items())}
        return replace(_summarize(win, edge, entries), tokens=self.tokens(service), since=self.since(service))

    def since(self, service: ObjectKey) -> float:
        """When `service`'s token totals began: this meter's start, or a carried-over run's."""
        return self._since.get(service, self.started_at)

    def tokens(self, service: ObjectKey) -> dict[str, EndpointTokenCount]:
        """Tokens metered per endpoint of `service` since this meter started (`started`)."""
        out: dict[str, EndpointTokenCount] = {}
        for (svc, endpoint, tier), series in self._children.items():
            if svc == service and (series.prompt_n or series.completion_n):
                out[endpoint] = EndpointTokenCount(tier, series.prompt_n, series.completion_n)
        return dict(sorted(out.items()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _summarize(win: ServiceWindow, edge: float, entries: Mapping[str, ServiceSummary] | None = None) -> ServiceSummary:
    win.trim(edge)
    samples = list(win.samples)
    by_tier: dict[str, int] = {}
    errors = 0
    for o in win.outcomes:
        by_tier[o.tier] = by_tier.get(o.tier, 0) + 1
        errors += o.failed
    return ServiceSummary(
        requests_by_tier=by_tier,
        errors=errors,
        samples=len(samples),
        p95_latency=p95([s.latency for s in samples]),
        p95_ttft=p95([s.ttft for s in samples if s.ttft is not None]),
        entries=dict(entries or {}),
        requests_total=sum(win.requests_by_tier.values()),
        errors_total=win.errors,
    )
