"""Honest figures: time to first token for streams only, counts over the stated window, a cut
stream as its own outcome."""

from __future__ import annotations

from laneway.api.meta import ObjectKey
from laneway.gateway.metering import Meter

SVC = ObjectKey("ml", "chat")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(meter: Meter, *, status: int = 200, ttft: float | None = None, total: float = 1.0, cut: bool = False) -> None:
    meter.record(SVC, endpoint="e", tier="Primary", status=status, ttft=ttft, total=total,
                 prompt_tokens=0, completion_tokens=0, entry="primary", cut=cut)


def test_plain_answers_have_no_time_to_first_token() -> None:
    meter = Meter(clock=Clock(), window=300, max_samples=100)
    for _ in range(20):
        _record(meter, total=2.5)  # plain: a latency, no first token
    _record(meter, ttft=0.045, total=0.4)  # one stream
    summary = meter.summary(SVC)
    assert summary is not None
    assert summary.p95_ttft == 0.045, "a 2.5 s plain answer is not a 2.5 s time to first token"
    assert summary.p95_latency == 2.5
    assert 'laneway_gateway_time_to_first_token_seconds_count{endpoint="e",namespace="ml",service="chat",tier="Primary"} 1.0' in meter.exposition().decode()


def test_counts_cover_the_window_they_state_and_totals_the_lifetime() -> None:
    clock = Clock()
    meter = Meter(clock=clock, window=300, max_samples=100)
    for _ in range(5):
        _record(meter)
    _record(meter, status=502)
    clock.now += 301
    _record(meter)
    summary = meter.summary(SVC)
    assert summary is not None
    assert summary.requests_by_tier == {"Primary": 1} and summary.errors == 0, "what is older than the window is out"
    assert (summary.requests_total, summary.errors_total) == (7, 1)
    assert summary.entries["primary"].requests_by_tier == {"Primary": 1}


def test_a_cut_stream_is_a_failure_of_its_own() -> None:
    meter = Meter(clock=Clock(), window=300, max_samples=100)
    _record(meter, ttft=0.05, total=0.3, cut=True)
    summary = meter.summary(SVC)
    assert summary is not None and summary.errors == 1 and summary.samples == 0
    text = meter.exposition().decode()
    assert 'code="stream_cut"' in text and 'code="200"' not in text and 'code="502"' not in text


def test_tokens_per_endpoint_are_lifetime_counts_with_their_start() -> None:
    meter = Meter(clock=Clock(), window=300, max_samples=100)
    for endpoint, tier, p, c in (("a", "Primary", 5, 2), ("a", "Primary", 7, 3), ("x", "Overflow", 11, 0)):
        meter.record(SVC, endpoint=endpoint, tier=tier, status=200, ttft=None, total=0.1, prompt_tokens=p, completion_tokens=c)
    meter.record(ObjectKey("ml", "other"), endpoint="a", tier="Primary", status=200, ttft=None, total=0.1, prompt_tokens=100, completion_tokens=100)
    summary = meter.summary(SVC)
    assert summary is not None and summary.since == meter.started_at
    assert {k: tuple(v) for k, v in summary.tokens.items()} == {"a": ("Primary", 12, 5), "x": ("Overflow", 11, 0)}
