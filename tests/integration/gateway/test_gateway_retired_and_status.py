"""Retired services answer 410 Gone; per-entry figures; InferenceGateway status; the headers bound."""

from __future__ import annotations

import httpx
import openai
import pytest
from gateway_harness import FAST, Fleet, endpoint, service

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.meta import ObjectKey
from laneway.gateway.config import GatewayConfig
from laneway.gateway.server import start_gateway
from laneway.testing.fleet import LOOPBACK_EGRESS
from laneway.ticket.canary import figures_from_status
from laneway.ticket.labels import RETIRED_ANNOTATION
from laneway.ticket.retirement import gone_message

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def _retired(name: str, message: str, **spec: object):
    svc = service(name, [ALL], **spec)
    return svc.model_copy(update={"metadata": svc.metadata.model_copy(update={"annotations": {RETIRED_ANNOTATION: message}})})


def test_a_retired_service_answers_410_gone_with_the_owner_and_date(fleet: Fleet) -> None:
    up = fleet.upstream("up")
    message = gone_message(what="service svc", date_text="2026-06-30", team="support", contact="#support-oncall")
    fleet.put(endpoint("up", up.url), _retired("svc", message, modelNames=["old-model"]))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.status_code == 410
    err = r.json()["error"]
    assert err["code"] == "service_retired" and err["message"] == message
    assert "owner: support (#support-oncall)" in err["message"] and "2026-06-30" in err["message"]
    assert up.received == []  # nothing reached the engine

    client = openai.OpenAI(base_url=f"{fleet.address}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="old-model", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 410 and "was retired on 2026-06-30" in str(caught.value)
    assert client.models.list().data == []  # a retired service is not offered
    ready = next(c for c in fleet.status("svc")["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Retired")

    # A live service that publishes the same model name takes the /v1 traffic.
    fleet.put(service("successor", [ALL], modelNames=["old-model"]))
    chat = client.chat.completions.create(model="old-model", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "up"

    # Un-retiring (the controllers remove the annotation on a new retireAfter) serves again.
    fleet.put(service("svc", [ALL], modelNames=["old-model"]))
    assert httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY).status_code == 200


def test_per_entry_figures_reach_the_status_in_the_canary_shape(fleet: Fleet) -> None:
    stable, canary = fleet.upstream("stable"), fleet.upstream("canary", mode="fail")
    fleet.put(
        endpoint("stable", stable.url, labels={"d": "stable"}),
        endpoint("canary", canary.url, labels={"d": "canary"}),
        service("svc", [
            {"name": "primary", "weight": 1, "selector": {"matchLabels": {"d": "stable"}}},
            {"name": "canary", "weight": 1, "selector": {"matchLabels": {"d": "canary"}}},
        ]),
    )
    with httpx.Client(base_url=fleet.address) as c:
        for _ in range(20):
            c.post("/ml/svc/v1/chat/completions", json=BODY)
    traffic = fleet.status("svc")["traffic"]
    entries = traffic[0]["entries"]
    # The failing canary's 500s were retried on the primary: they count against the canary only.
    assert entries["canary"]["requests"]["Primary"] >= 1 and entries["canary"]["errors"] == entries["canary"]["requests"]["Primary"]
    assert entries["primary"]["errors"] == 0
    figures = figures_from_status(traffic, entry="canary")
    assert figures.requests == figures.errors >= 1


def _gateway_status(fleet: Fleet) -> dict:
    return fleet.store.get("InferenceGateway", ObjectKey(None, "front-door")).wire().get("status", {})


def test_inference_gateway_status_is_held_by_one_gateway_and_passed_on_at_stop(fleet: Fleet) -> None:
    fleet.put(InferenceGateway.model_validate({"metadata": {"name": "front-door"}, "spec": {"egress": LOOPBACK_EGRESS}}))
    fleet.loop.call(fleet.gateway.flush_status())
    st = _gateway_status(fleet)
    assert st["address"] == fleet.address and st["servedBy"] == fleet.address
    assert next(c for c in st["conditions"] if c["type"] == "Ready")["status"] == "True"

    # A second gateway on the same store leaves it alone while the first answers: no flapping.
    second = fleet.loop.call(start_gateway(store=fleet.store, host="127.0.0.1", port=0, config=FAST, identity="gw-2"))
    try:
        version = fleet.store.get("InferenceGateway", ObjectKey(None, "front-door")).metadata.resource_version
        for _ in range(3):
            fleet.loop.call(second.flush_status())
            fleet.loop.call(fleet.gateway.flush_status())
        assert fleet.store.get("InferenceGateway", ObjectKey(None, "front-door")).metadata.resource_version == version

        # Service statuses name the held address, whichever gateway writes them.
        fleet.put(service("svc", [ALL]))
        fleet.loop.call(second.flush_status())
        assert fleet.store.get("ModelService", ObjectKey("ml", "svc")).wire()["status"]["address"] == f"{fleet.address}/ml/svc"

        # The holder stops: it releases, and the second gateway claims at its next write.
        first_address = fleet.address
        fleet.loop.call(fleet.gateway.stop())
        st = _gateway_status(fleet)
        assert "servedBy" not in st and next(c for c in st["conditions"] if c["type"] == "Ready")["reason"] == "NoGateway"
        fleet.loop.call(second.flush_status())
        st = _gateway_status(fleet)
        assert st["address"] == second.address != first_address
        assert next(c for c in st["conditions"] if c["type"] == "Ready")["status"] == "True"
    finally:
        fleet.loop.call(second.stop())
        fleet.gateway = second  # already stopped: the fixture's second stop is harmless


def test_a_holder_that_died_without_releasing_is_replaced(fleet: Fleet) -> None:
    dead = "http://127.0.0.1:9"  # nothing answers /healthz there
    fleet.put(InferenceGateway.model_validate({"metadata": {"name": "front-door"}, "spec": {"egress": LOOPBACK_EGRESS}}))
    gw = fleet.store.get("InferenceGateway", ObjectKey(None, "front-door"))
    fleet.store.update_status(gw.model_copy(update={"status": gw.status.model_copy(update={"address": dead, "servedBy": dead})}))
    fleet.loop.call(fleet.gateway.flush_status())
    assert _gateway_status(fleet)["servedBy"] == fleet.address


def test_an_upstream_that_never_sends_headers_is_abandoned_within_the_bound() -> None:
    f = Fleet(GatewayConfig(**{**FAST.__dict__, "headers_timeout": 0.3}))
    try:
        hang, ok = f.upstream("hang", mode="hang"), f.upstream("ok")
        f.put(endpoint("hang", hang.url, labels={"app": "p"}), endpoint("ok", ok.url, labels={"app": "o"}),
              service("svc", [{"selector": {"matchLabels": {"app": "p"}}}, {"selector": {"matchLabels": {"app": "o"}}, "tier": "Overflow"}]))
        r = httpx.post(f"{f.address}/ml/svc/v1/chat/completions", json=BODY, timeout=10)
        # The primary gave no headers within 0.3 s (+ the sweep): retried on the next tier.
        assert (r.status_code, r.headers["x-laneway-endpoint"]) == (200, "ok")
        assert hang.in_flight == 0 or hang.cancelled <= 1
        assert len(f.gateway.proxy.deadlines) == 0
    finally:
        f.close()
