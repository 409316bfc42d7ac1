"""Usage metering for streamed and non-streamed requests, and the SLO on the service status."""

from __future__ import annotations

import httpx
from gateway_harness import Fleet, endpoint, service

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_usage_metered_for_plain_and_streamed_requests(fleet: Fleet) -> None:
    up = fleet.upstream("up")
    fleet.put(endpoint("up", up.url), service("svc", [ALL], slo={"p95Latency": "10s"}))
    url = f"{fleet.address}/ml/svc/v1/chat/completions"
    assert httpx.post(url, json=BODY).json()["usage"]["completion_tokens"] == 2
    with httpx.stream("POST", url, json={**BODY, "stream": True}) as r:
        raw = b"".join(r.iter_bytes())
    # The gateway asked the upstream for usage; the caller had not, so the chunk is dropped.
    assert up.received[1]["payload"]["stream_options"] == {"include_usage": True}
    assert b'"usage"' not in raw and raw.endswith(b"data: [DONE]\n\n")

    m = fleet.metrics()
    assert _metric(m, "laneway_gateway_tokens_total", kind="prompt", service="svc") == 5 + 7
    assert _metric(m, "laneway_gateway_tokens_total", kind="completion", service="svc") == 2 + 3
    assert _metric(m, "laneway_gateway_requests_total", code="200", endpoint="up", tier="Primary") == 2
    assert _metric(m, "laneway_gateway_time_to_first_token_seconds_count", service="svc") == 1, "streams only: a plain answer has no first token"
    assert _metric(m, "laneway_gateway_request_duration_seconds_count", service="svc") == 2

    status = fleet.status("svc")
    traffic = status["traffic"][0]
    assert traffic["gateway"] == "test-gw" and traffic["requests"] == {"Primary": 2}
    assert traffic["p95LatencySeconds"] > 0 and traffic["p95TimeToFirstTokenSeconds"] > 0
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["SLOMet"]["status"] == "True"
    assert status["address"] == f"{fleet.address}/ml/svc"


def test_broken_slo_budget_sets_a_condition(fleet: Fleet) -> None:
    up = fleet.upstream("up", delay=0.05)
    fleet.put(endpoint("up", up.url), service("svc", [ALL], slo={"p95Latency": "10ms"}))
    for _ in range(3):
        httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    slo = next(c for c in fleet.status("svc")["conditions"] if c["type"] == "SLOMet")
    assert slo["status"] == "False" and slo["reason"] == "BudgetExceeded"
    assert "exceeds the budget 10ms" in slo["message"]
