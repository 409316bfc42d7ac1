"""Per-entry traffic figures: what the gateway writes is what the canary rollback reads."""

from __future__ import annotations

from laneway.api.kinds.serving import ModelService, ModelServiceStatus
from laneway.api.meta import ObjectKey
from laneway.gateway import table as table_module
from laneway.gateway.metering import Meter
from laneway.gateway.status import status_for
from laneway.gateway.table import build_table
from laneway.gateway.weights import entry_name
from laneway.ticket.canary import figures_from_status
from laneway.ticket.labels import RETIRED_ANNOTATION

KEY = ObjectKey("ml", "chat")


class Clock:
    now = 10.0

    def __call__(self) -> float:
        return self.now


def _service(**annotations: str) -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml", "annotations": annotations},
        "spec": {"endpoints": [
            {"name": "primary", "weight": 90, "selector": {"matchLabels": {"d": "a"}}},
            {"name": "canary", "weight": 10, "selector": {"matchLabels": {"d": "b"}}},
            {"tier": "Overflow", "selector": {"matchLabels": {"d": "c"}}},
        ]},
    })


def test_entry_names_fall_back_to_the_position() -> None:
    assert entry_name("canary", 1) == "canary" and entry_name(None, 2) == "endpoints[2]"


def test_per_entry_figures_round_trip_into_the_canary_judge() -> None:
    meter = Meter(clock=Clock(), window=300, max_samples=100)
    for _ in range(8):
        meter.record(KEY, endpoint="a-0", tier="Primary", status=200, ttft=0.01, total=0.1,
                     prompt_tokens=1, completion_tokens=1, entry="primary")
    for status in (200, 500, 503):
        meter.record(KEY, endpoint="b-0", tier="Primary", status=status, ttft=0.5, total=2.0,
                     prompt_tokens=0, completion_tokens=0, entry="canary")
    meter.record(KEY, endpoint="c-0", tier="Overflow", status=200, ttft=0.2, total=0.3,
                 prompt_tokens=0, completion_tokens=0, entry="endpoints[2]")
    route = build_table(services=[_service()], endpoints=[], secrets=[]).services[KEY]
    st = status_for(ModelServiceStatus(), route, meter.summary(KEY), address="http://gw/ml/chat", identity="gw-1", window=300)
    traffic = st.wire()["traffic"]
    entries = traffic[0]["entries"]
    assert set(entries) == {"primary", "canary", "endpoints[2]"}
    assert entries["canary"] == {"requests": {"Primary": 3}, "errors": 2, "p95LatencySeconds": 2.0, "p95TimeToFirstTokenSeconds": 0.5,
                                 "requestsTotal": 3, "errorsTotal": 2}
    assert traffic[0]["requests"] == {"Overflow": 1, "Primary": 11} and traffic[0]["errors"] == 2

    canary = figures_from_status(traffic, entry="canary")
    assert (canary.requests, canary.errors, canary.p95_latency) == (3, 2, 2.0)
    primary = figures_from_status(traffic, entry="primary")
    assert (primary.requests, primary.errors, primary.p95_latency) == (8, 0, 0.1)


def test_the_gateway_reads_the_same_retirement_annotation_the_controllers_write() -> None:
    assert table_module.RETIRED_ANNOTATION == RETIRED_ANNOTATION
    message = "service chat was retired on 2026-01-01 by its retirement rule; owner: ml (#ml)"
    route = build_table(services=[_service(**{RETIRED_ANNOTATION: message})], endpoints=[], secrets=[]).services[KEY]
    assert route.retired == message
    st = status_for(ModelServiceStatus(), route, None, address="http://gw/ml/chat", identity="gw-1", window=300)
    ready = next(c for c in st.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "Retired") and message in ready.message


def test_only_server_failures_count_as_errors() -> None:
    """A caller's 4xx (bad request, no key, rate limited, gone away) is not the endpoint's fault."""
    from collections import deque

    from laneway.gateway.metering import Sample, ServiceWindow

    window = ServiceWindow(samples=deque(maxlen=10))
    for status in (200, 400, 401, 429, 499, 500, 503):
        window.add("Primary", status, Sample(at=0.0, latency=0.1, ttft=0.05))
    assert window.requests_by_tier == {"Primary": 7}
    assert window.errors == 2
    assert len(window.samples) == 1


def test_the_slo_verdict_is_judged_over_every_gateways_figures() -> None:
    from laneway.api.conditions import find_condition
    from laneway.api.kinds.serving import GatewayTraffic

    service = ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"d": "a"}}}], "slo": {"p95Latency": "1s"}},
    })
    route = build_table(services=[service], endpoints=[], secrets=[]).services[KEY]
    meter = Meter(clock=Clock(), window=300, max_samples=100)
    for _ in range(20):  # this gateway alone is well within the budget
        meter.record(KEY, endpoint="a-0", tier="Primary", status=200, ttft=0.01, total=0.2,
                     prompt_tokens=1, completion_tokens=1, entry="endpoints[0]")
    slow = GatewayTraffic(gateway="gw-2", window_seconds=300, requests={"Primary": 30}, errors=0, p95_latency_seconds=3.0)
    st = status_for(ModelServiceStatus(traffic=[slow]), route, meter.summary(KEY), address="a", identity="gw-1", window=300)
    slo = find_condition(st.conditions, "SLOMet")
    assert slo is not None and slo.status == "False" and "3000ms" in slo.message
    assert sorted(t.gateway for t in st.traffic or []) == ["gw-1", "gw-2"]
    assert sum(sum(t.requests.values()) for t in st.traffic or []) == 50  # the figures add up

    # A third gateway with no traffic of its own writes the same verdict: none takes turns flipping it.
    third = status_for(st, route, None, address="a", identity="gw-3", window=300)
    assert find_condition(third.conditions, "SLOMet").status == "False"  # type: ignore[union-attr]
