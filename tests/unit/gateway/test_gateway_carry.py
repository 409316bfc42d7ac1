"""What a restarted gateway carries over from its own `status.traffic` entry (pure parts)."""

from __future__ import annotations

from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey, rfc3339
from laneway.gateway.carry import carried
from laneway.gateway.metering import EndpointTokenCount, Meter

KEY = ObjectKey("ml", "chat")


def _service(traffic: list[dict[str, object]]) -> ModelService:
    return ModelService.model_validate(
        {"metadata": {"name": "chat", "namespace": "ml"}, "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}, "status": {"traffic": traffic}}
    )


def test_only_its_own_entry_with_tokens_and_a_since_is_carried() -> None:
    since = rfc3339(1_000.0)
    svc = _service([
        {"gateway": "me-8080", "since": since, "tokens": {"hosted": {"tier": "Overflow", "prompt": 10, "completion": 4}}},
        {"gateway": "other-8081", "since": since, "tokens": {"hosted": {"tier": "Overflow", "prompt": 99, "completion": 9}}},
        {"gateway": "me-8080-nosince", "tokens": {"hosted": {"prompt": 1}}},
    ])
    (c,) = carried([svc], "me-8080")
    assert c.service == KEY and c.since == 1_000.0
    assert c.tokens == {"hosted": EndpointTokenCount("Overflow", 10, 4)}
    assert carried([svc], "me-8080-nosince") == [], "without a since the totals cannot be placed in time"
    assert carried([_service([{"gateway": "me-8080", "since": since}])], "me-8080") == []


def test_a_meter_continues_from_carried_totals_and_keeps_their_since() -> None:
    meter = Meter(clock=lambda: 2_000.0, window=300, max_samples=10)
    meter.carry(KEY, since=1_000.0, tokens={"hosted": EndpointTokenCount("Overflow", 10, 4)})
    summary = meter.summary(KEY)
    assert summary is not None, "the carried totals are written before any new request"
    assert summary.since == 1_000.0 and summary.tokens["hosted"] == EndpointTokenCount("Overflow", 10, 4)
    meter.record(KEY, endpoint="hosted", tier="Overflow", status=200, ttft=None, total=0.1, prompt_tokens=5, completion_tokens=2)
    after = meter.summary(KEY)
    assert after is not None and after.tokens["hosted"] == EndpointTokenCount("Overflow", 15, 6)
    assert after.requests_total == 1, "only the totals economics reads are carried, not the request counts"


def test_a_since_not_before_the_meter_started_is_not_carried() -> None:
    meter = Meter(clock=lambda: 2_000.0, window=300, max_samples=10)
    meter.carry(KEY, since=meter.started_at + 5, tokens={"hosted": EndpointTokenCount("Overflow", 10, 4)})
    assert meter.summary(KEY) is None and meter.tokens(KEY) == {}
