from __future__ import annotations

import pytest

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelService, RateLimit, ServiceSLO
from laneway.api.meta import ObjectKey
from laneway.gateway.config import GatewayConfig
from laneway.gateway.errors import GatewayError, error_body
from laneway.gateway.health import EndpointState
from laneway.gateway.keys import NAMESPACE_KEY_LABEL, build_key_index, presented_key
from laneway.gateway.limits import RateLimiter, RetryBudget
from laneway.gateway.metering import ServiceSummary, judge_slo, p95
from laneway.gateway.routing import split_prefixed


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_ejection_after_consecutive_failures_then_one_probe_then_return() -> None:
    cfg = GatewayConfig(eject_after_failures=2, ejection_seconds=10, max_ejection_seconds=15)
    st = EndpointState()
    st.on_failure(0, cfg)
    assert st.available(0)
    st.on_failure(0, cfg)
    assert not st.available(5) and st.available(10)
    st.in_flight = 1  # the probe is out: nobody else goes
    assert not st.available(11)
    st.in_flight = 0
    st.on_failure(11, cfg)  # failed probe: ejected for twice as long, capped
    assert st.ejected_until == 26 and not st.available(25)
    st.on_success()
    assert st.available(0) and not st.ejected


def test_request_rate_limit_and_retry_after() -> None:
    clock = Clock()
    lim = RateLimiter(clock=clock)
    rl = RateLimit(requests_per_minute=2)
    assert lim.admit("k", rl).allowed and lim.admit("k", rl).allowed
    denied = lim.admit("k", rl)
    assert not denied.allowed and denied.retry_after == 30
    assert lim.admit("other", rl).allowed  # per key
    clock.t += 30
    assert lim.admit("k", rl).allowed


def test_token_rate_limit_charges_after_the_response() -> None:
    clock = Clock()
    lim = RateLimiter(clock=clock)
    rl = RateLimit(tokens_per_minute=60)
    assert lim.admit("k", rl).allowed
    lim.charge_tokens("k", rl, 90)  # level -30
    d = lim.admit("k", rl)
    assert not d.allowed and d.retry_after == 31
    clock.t += 31
    assert lim.admit("k", rl).allowed


def test_retry_budget_minimum_and_ratio() -> None:
    clock = Clock()
    b = RetryBudget(clock=clock, ratio=0.5, minimum=1, window=10)
    assert b.try_retry() and not b.try_retry()
    for _ in range(6):
        b.record_request()
    assert b.try_retry() and b.try_retry() and not b.try_retry()
    clock.t += 11
    assert b.try_retry()


def _secret(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Secret:
    return Secret.model_validate({"metadata": {"name": name, "namespace": "ml", "labels": labels or {}}, "stringData": data})


def _svc(name: str, **spec: object) -> ModelService:
    return ModelService.model_validate(
        {"metadata": {"name": name, "namespace": "ml"}, "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}}], **spec}}
    )


def test_keys_grant_per_service_and_per_namespace() -> None:
    secrets = {s.key: s for s in (_secret("keys", {"a": "sk-a"}), _secret("ns", {"x": "sk-ns"}, {NAMESPACE_KEY_LABEL: "true"}))}
    idx, problems = build_key_index([_svc("one", apiKeys=[{"name": "keys", "key": "a"}, {"name": "keys", "key": "zz"}])], secrets)
    one, two = ObjectKey("ml", "one"), ObjectKey("ml", "two")
    assert problems == {one: ["apiKeys: Secret 'keys' has no key 'zz'"]}
    a = idx.identify("sk-a")
    assert idx.authorize(one, a) == a.key_id and len(a.key_id) == 12 and "sk-a" not in a.key_id  # type: ignore[union-attr]
    with pytest.raises(GatewayError) as e:
        idx.authorize(two, a)  # namespace ml has namespace keys, so 'two' requires one too
    assert e.value.status == 403
    assert idx.authorize(two, idx.identify("sk-ns"))
    for presented, status in ((None, 401), ("sk-wrong", 401)):
        with pytest.raises(GatewayError) as e:
            idx.authorize(one, idx.identify(presented))
        assert e.value.status == status
    open_idx, _ = build_key_index([_svc("open")], {})
    assert open_idx.authorize(ObjectKey("ml", "open"), open_idx.identify("whatever")) == "anonymous"


def test_presented_key_from_either_header() -> None:
    assert presented_key("Bearer sk-1", None) == "sk-1"
    assert presented_key(None, "sk-2") == "sk-2"
    assert presented_key("Basic abc", None) is None


def test_slo_judgement() -> None:
    s = ServiceSummary(requests_by_tier={"Primary": 20}, errors=0, samples=20, p95_latency=0.5, p95_ttft=0.2)
    assert judge_slo(ServiceSLO(p95_latency="1s"), s).status == "True"
    v = judge_slo(ServiceSLO(p95_latency="1s", p95_time_to_first_token="100ms"), s)
    assert v.status == "False" and "time to first token 200ms exceeds the budget 100ms" in v.message
    assert judge_slo(None, s).status == "Unknown"
    assert judge_slo(ServiceSLO(p95_latency="1s"), None).reason == "NoTraffic"
    assert p95([float(i) for i in range(1, 101)]) == 95.0


def test_path_split_and_error_shape() -> None:
    assert split_prefixed("/ml/chat/v1/chat/completions") == (ObjectKey("ml", "chat"), "/v1/chat/completions")
    assert split_prefixed("/ml/chat") == (ObjectKey("ml", "chat"), "/")
    assert split_prefixed("/ml") is None
    assert b'"type": "rate_limit_error"' in error_body(429, "slow down", "rate_limit_exceeded")
