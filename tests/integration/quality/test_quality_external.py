"""Quality probes on external (Overflow) endpoints, with real servers on 127.0.0.1.

- Through a real gateway's resolved endpoints: the probe reaches the provider through the
  egress policy with the key of the endpoint's platform-written Secret, the calls stop at
  `externalCallsPerHour`, their tokens land in the service's spend, the budget ledger counts
  them, and a spent budget stops the probes (until break-glass).
- The team lane aiming probes elsewhere: endpoint URLs that reach loopback (by name, by
  literal, by an odd spelling) under a policy that does not open it, and a platform key
  pointed at a host its Secret may not go to. A sink server on 127.0.0.1 proves nothing arrived.

The controllers are driven one reconcile at a time on a test clock; nothing asserts timing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import Fleet, Upstream, endpoint, lone_upstream, secret, service

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import ModelService
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.budget import BudgetController
from laneway.control.quality import QualityController
from laneway.egress.destinations import DESTINATIONS_ANNOTATION, PLATFORM_LANE
from laneway.quality.paid import PROBES_ENTRY
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_gateway

NS = "ml"
KEY = ObjectKey(NS, "svc")
IN_PRICE, OUT_PRICE = 2.0, 6.0
CALL_COST = (5 * IN_PRICE + 2 * OUT_PRICE) / 1e6
"""What one probe call costs: the test upstream reports 5 prompt and 2 completion tokens."""
PROBE = {"name": "names-itself", "prompt": "Who are you?", "maxTokens": 4, "contains": "hosted"}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def platform_secret(name: str, destinations: str) -> Any:
    s = secret(name, {"apiKey": "sk-provider-key"})
    annotations = {WRITTEN_BY_ANNOTATION: PLATFORM_LANE, DESTINATIONS_ANNOTATION: destinations}
    return s.model_copy(update={"metadata": s.metadata.model_copy(update={"annotations": annotations})})


def quality(**extra: Any) -> dict[str, Any]:
    return {"probes": [PROBE], "interval": "60s", "window": 4, **extra}


def _status(store: Any) -> Any:
    return store.get(ModelService, KEY).status


def test_overflow_provider_is_probed_with_its_key_capped_and_counted_in_spend(fleet: Fleet) -> None:
    hosted = fleet.upstream("hosted")
    gw = fleet.store.get(InferenceGateway, ObjectKey("", "front-door"))
    budget = {"namespace": NS, "limit": 2 * CALL_COST, "period": "30d", "warnAt": 0.5}
    fleet.store.update(InferenceGateway.model_validate({**gw.wire(), "spec": {**gw.wire()["spec"], "budgets": [budget]}}))
    fleet.put(
        platform_secret("provider-key", "127.0.0.1"),
        endpoint("hosted", f"{hosted.url}/v1", model="big-model", auth={"secretRef": {"name": "provider-key", "key": "apiKey"}},
                 pricing={"perMillionInputTokens": IN_PRICE, "perMillionOutputTokens": OUT_PRICE}),
        service("svc", [{"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}],
                quality=quality(externalCallsPerHour=2)),
    )
    assert [e["name"] for e in fleet.status("svc")["endpoints"]] == ["hosted"], "the gateway resolves the provider"
    clock = Clock()
    ctx = ControlContext(store=fleet.store, clock=clock)
    probes, ledger = QualityController(ctx), BudgetController(ctx)

    def round_(advance: float = 60.0) -> Any:
        clock.now += advance
        asyncio.run(probes.reconcile(KEY))
        return _status(fleet.store)

    first = round_()
    (sent,) = hosted.received
    assert sent["path"] == "/v1/chat/completions" and sent["payload"]["model"] == "big-model"
    assert sent["headers"]["Authorization"] == "Bearer sk-provider-key", "the endpoint's own key, where it may go"
    (q,) = first.quality.endpoints
    assert (q.name, q.tier, q.pass_rate) == ("hosted", "Overflow", 1.0)
    assert first.quality.paid_calls.calls == 1
    entry = next(t for t in first.traffic if t.gateway == PROBES_ENTRY)
    assert (entry.tokens["hosted"].prompt, entry.tokens["hosted"].completion) == (5, 2)

    round_()
    capped = round_()
    assert len(hosted.received) == 2, "externalCallsPerHour: 2"
    assert "externalCallsPerHour 2 reached" in capped.quality.skipped["hosted"]
    assert capped.quality.endpoints[0].recent == [True, True], "a skipped endpoint keeps its entry"

    asyncio.run(ledger.reconcile(ObjectKey("", "front-door")))
    (b,) = fleet.store.get(InferenceGateway, ObjectKey("", "front-door")).status.budgets
    assert abs(b.spent - 2 * CALL_COST) < 1e-12 and b.exhausted, "the budget sees the probe calls, once each"

    spent = round_(3600.0)  # a new hour: the cap has room again, the budget has none
    assert len(hosted.received) == 2
    assert "budget for external providers is spent" in spent.quality.skipped["hosted"]
    fleet.put(service("svc", [{"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}],
                      quality=quality(externalCallsPerHour=2), breakGlass=True))
    round_()
    assert len(hosted.received) == 3, "break-glass lets paid probes through a spent budget"


@pytest.fixture
def sink() -> Iterator[Upstream]:
    with lone_upstream("sink") as up:
        yield up


def _attack(store: MemoryStore, endpoints: list[Any]) -> Any:
    """The team's endpoints and a probing service, listed as a gateway would resolve them."""
    for obj in endpoints:
        store.create(obj)
    svc = store.create(service("svc", [{"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}], quality=quality()))
    resolved = [{"name": e.metadata.name, "url": e.spec.url, "tier": "Overflow", "weight": 1.0} for e in endpoints]
    store.update_status(ModelService.model_validate({**svc.wire(), "status": {"endpoints": resolved}}))
    asyncio.run(QualityController(ControlContext(store=store)).reconcile(KEY))
    return _status(store)


def test_team_cannot_aim_probes_at_loopback(sink: Upstream) -> None:
    port = sink.url.rsplit(":", 1)[1]
    store = MemoryStore()
    try:
        add_gateway(store, egress={})  # the platform opened nothing: the default policy
        status = _attack(store, [
            endpoint("by-name", f"http://localhost:{port}/v1"),
            endpoint("by-literal", f"http://127.0.0.1:{port}/v1"),
            endpoint("by-number", f"http://2130706433:{port}/v1"),
        ])
    finally:
        store.close()
    assert sink.received == [], "nothing reached the server on 127.0.0.1"
    by_name = {e.name: e for e in status.quality.endpoints}
    assert set(by_name) == {"by-name", "by-literal", "by-number"}
    for e in by_name.values():
        assert e.failing and e.last_failure is not None
        assert e.last_failure.why.startswith("not sent: the platform's egress policy refuses it"), e.last_failure.why
    assert status.quality.paid_calls.calls == 0 and not any(t.gateway == PROBES_ENTRY for t in status.traffic or [])


def test_team_cannot_send_a_platform_key_where_its_secret_may_not_go(sink: Upstream) -> None:
    store = MemoryStore()
    try:
        add_gateway(store)  # loopback open: only the key's destinations stand between
        store.create(platform_secret("provider-key", "api.provider.example"))
        status = _attack(store, [
            endpoint("exfil", f"{sink.url}/v1", auth={"secretRef": {"name": "provider-key", "key": "apiKey"}}),
        ])
    finally:
        store.close()
    assert sink.received == [], "no request, so no key, reached the team's server"
    (e,) = status.quality.endpoints
    assert e.failing and e.last_failure is not None and "CredentialRefused" in e.last_failure.why
    assert "sk-provider-key" not in e.last_failure.why
