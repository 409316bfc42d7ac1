"""Attacks 3, 6, 9 and the gateway items of 10 of issue 11, as a team-token holder, against a
real `laneway up` on loopback.

The victim is the `research` namespace (written with the admin token, as a platform or the
research team would); the attacker holds a team token for `ml-team` and writes only there.
Upstreams are recording servers on 127.0.0.1: research's provider records every path it is
asked for, and the attacker's own server (the sink) records every request it receives. Each
test checks the side effect did not happen: the sink received nothing of research's callers,
no path outside the provider's prefix was requested, no key got a bucket of its own.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cli_harness import Up
from security_harness import (
    OTHER_NAMESPACE,
    TEAM_NAMESPACE,
    admin_token_of,
    connect,
    trickle,
    up_client,
)

GATEWAY_TESTS = Path(__file__).resolve().parents[1] / "integration" / "gateway"
if str(GATEWAY_TESTS) not in sys.path:
    sys.path.insert(0, str(GATEWAY_TESTS))

from gateway_harness import LoopThread, Upstream

from laneway.gateway.keys import NAMESPACE_KEY_LABEL

T = TypeVar("T")
GROUP = "/apis/laneway.dev/v1alpha1"
RESEARCH_KEY = "sk-research-only"
PROVIDER_TOKEN = "provider-credential-of-research"
WAIT = 45.0  # statuses are written every 5 s; generous for a loaded machine


@dataclass
class Lanes:
    up: Up
    admin: httpx.Client
    team: httpx.Client
    team_token: str
    platform_token: str
    loop: LoopThread
    upstreams: list[Upstream]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.up.gateway_port}"

    def upstream(self, name: str) -> Upstream:
        server = Upstream(name)
        self.loop.call(server.start())
        self.upstreams.append(server)
        return server


def _token(admin: httpx.Client, role: str, namespaces: list[str]) -> str:
    created = admin.post(f"{GROUP}/tokens", json={"role": role, "namespaces": namespaces})
    assert created.status_code == 201, created.text
    return str(created.json()["token"])


@pytest.fixture(scope="module")
def lanes(up: Up) -> Iterator[Lanes]:
    loop = LoopThread()
    admin = up_client(up, admin_token_of(up))
    team_token = _token(admin, "team", [TEAM_NAMESPACE])
    platform_token = _token(admin, "platform", [])
    team = up_client(up, team_token)
    # The upstreams of these tests listen on loopback, which the egress policy refuses for
    # team-written URLs unless the platform opens it: the platform opens it here, on purpose.
    gateway = {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceGateway", "metadata": {"name": "front-door"},
               "spec": {"egress": {"allow": [{"cidr": "127.0.0.0/8"}]}}}
    opened = admin.post(f"{GROUP}/inferencegateways", json=gateway)
    assert opened.status_code == 201, opened.text
    state = Lanes(up, admin, team, team_token, platform_token, loop, [])
    try:
        yield state
    finally:
        for server in state.upstreams:
            loop.call(server.stop())
        loop.close()
        admin.close()
        team.close()


def create(client: httpx.Client, doc: dict[str, Any]) -> None:
    ns = doc["metadata"]["namespace"]
    if doc["kind"] == "Secret":
        url, body = f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", **doc}
    else:
        url, body = f"{GROUP}/namespaces/{ns}/{doc['kind'].lower()}s", {"apiVersion": "laneway.dev/v1alpha1", **doc}
    answer = client.post(url, json=body)
    assert answer.status_code == 201, answer.text


def endpoint(ns: str, name: str, url: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "ModelEndpoint", "metadata": {"name": name, "namespace": ns, "labels": {"serves": name}},
            "spec": {"url": url, **spec}}


def service(ns: str, name: str, serves: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "ModelService", "metadata": {"name": name, "namespace": ns},
            "spec": {"endpoints": [{"selector": {"matchLabels": {"serves": serves}}}], **spec}}


def secret(ns: str, name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "stringData": data}


def until(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def condition(client: httpx.Client, ns: str, name: str, type_: str) -> dict[str, Any] | None:
    got = client.get(f"{GROUP}/namespaces/{ns}/modelservices/{name}")
    assert got.status_code == 200, got.text
    return next((c for c in got.json().get("status", {}).get("conditions", []) if c["type"] == type_), None)


def chat(gateway: str, model: str, *, key: str | None = None, marker: str = "hello") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{gateway}/v1/chat/completions", headers=headers, timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": marker}]})


def raw_request(gateway: str, method: str, target: str, *, body: bytes | None = None) -> tuple[int, bytes]:
    """Send `target` exactly as written (httpx would resolve dot segments before sending)."""
    host, port = gateway.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def test_attack3_a_later_keyless_claim_never_receives_the_owners_callers(lanes: Lanes) -> None:
    """research/chat publishes gpt-prod and requires a key; ml-team then publishes gpt-prod
    keyless, pointing at its own server. research's callers must still reach research."""
    research = lanes.upstream("research-chat")
    sink = lanes.upstream("ml-team-sink")
    create(lanes.admin, secret(OTHER_NAMESPACE, "chat-keys", {"k": RESEARCH_KEY}))
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "chat-engine", research.url))
    create(lanes.admin, service(OTHER_NAMESPACE, "chat", "chat-engine", modelNames=["gpt-prod"],
                                apiKeys=[{"name": "chat-keys", "key": "k"}]))
    until(lambda: chat(lanes.gateway, "gpt-prod", key=RESEARCH_KEY).status_code == 200, "research/chat to answer")

    time.sleep(1.1)  # a later creationTimestamp (the store stamps whole seconds)
    create(lanes.team, endpoint(TEAM_NAMESPACE, "hijack-engine", sink.url))
    create(lanes.team, service(TEAM_NAMESPACE, "hijack", "hijack-engine", modelNames=["gpt-prod"]))
    refused = until(lambda: condition(lanes.team, TEAM_NAMESPACE, "hijack", "ModelNameConflict"),
                    "the ModelNameConflict condition on ml-team/hijack")
    assert refused["status"] == "True" and refused["reason"] == "NameOwnedElsewhere"
    assert "'gpt-prod'" in refused["message"] and OTHER_NAMESPACE not in refused["message"]

    for i in range(5):
        answer = chat(lanes.gateway, "gpt-prod", key=RESEARCH_KEY, marker=f"research-secret-prompt-{i}")
        assert answer.status_code == 200 and answer.headers["x-laneway-endpoint"] == "chat-engine"
    keyless = chat(lanes.gateway, "gpt-prod", marker="anonymous-prompt")  # the keyless claim does not shadow
    assert keyless.status_code == 401 and OTHER_NAMESPACE not in keyless.json()["error"]["message"]
    assert sink.received == [], "ml-team's server received a request meant for research/chat"
    assert len(research.received) >= 5


def test_attack3_a_key_is_never_routed_to_a_squatter_of_its_name(lanes: Lanes) -> None:
    """ml-team claims a name first (keyless); research publishes it later. research's callers
    with research's key are refused, never sent to the squatter."""
    sink = lanes.upstream("ml-team-squat")
    research = lanes.upstream("research-next")
    create(lanes.team, endpoint(TEAM_NAMESPACE, "squat-engine", sink.url))
    create(lanes.team, service(TEAM_NAMESPACE, "squat", "squat-engine", modelNames=["gpt-next"]))
    time.sleep(1.1)  # a later creationTimestamp (the store stamps whole seconds)
    create(lanes.admin, secret(OTHER_NAMESPACE, "next-keys", {"k": RESEARCH_KEY + "-next"}))
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "next-engine", research.url))
    create(lanes.admin, service(OTHER_NAMESPACE, "next", "next-engine", modelNames=["gpt-next"],
                                apiKeys=[{"name": "next-keys", "key": "k"}]))
    until(lambda: condition(lanes.admin, OTHER_NAMESPACE, "next", "ModelNameConflict"),
          "the ModelNameConflict condition on research/next")
    answer = chat(lanes.gateway, "gpt-next", key=RESEARCH_KEY + "-next", marker="research-secret-prompt")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "model_name_conflict"
    assert TEAM_NAMESPACE not in answer.json()["error"]["message"]
    assert not any("research-secret-prompt" in str(r["payload"]) for r in sink.received)
    # research's own path still works for research's callers.
    direct = httpx.post(f"{lanes.gateway}/{OTHER_NAMESPACE}/next/v1/chat/completions", timeout=30,
                        headers={"Authorization": f"Bearer {RESEARCH_KEY}-next"},
                        json={"model": "gpt-next", "messages": [{"role": "user", "content": "hi"}]})
    assert direct.status_code == 200 and research.received


ESCAPES = [
    "/research/provider/../../../X",
    "/research/provider/%2e%2e/%2e%2e/X",
    "/research/provider/..%2f..%2fX",
    "/research/provider/v1/..%2F..%2F..%2Fadmin",
    "/research/provider/%252e%252e/X",
    "/research/provider/..\\..\\X",
    "/ml-team/a/../../research/provider/v1/chat/completions",
    "/research/provider/v1/%2fadmin",
]


def test_attack6_gateway_paths_cannot_leave_the_endpoint_prefix(lanes: Lanes) -> None:
    """An endpoint under /provider/v1 on the provider's host, with research's provider token
    injected: no caller path may reach anything outside /provider/v1 there."""
    provider = lanes.upstream("provider")
    # Written by the platform lane, so it goes only where its destinations say: the provider.
    token = secret(OTHER_NAMESPACE, "provider-token", {"token": PROVIDER_TOKEN})
    token["metadata"]["annotations"] = {"laneway.dev/destinations": provider.url.removeprefix("http://")}
    create(lanes.admin, token)
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "provider-ep", provider.url + "/provider/v1",
                                 auth={"secretRef": {"name": "provider-token", "key": "token"}}))
    create(lanes.admin, service(OTHER_NAMESPACE, "provider", "provider-ep"))
    body = b'{"model": "provider", "messages": [{"role": "user", "content": "hi"}]}'
    until(lambda: raw_request(lanes.gateway, "POST", "/research/provider/v1/chat/completions", body=body)[0] == 200,
          "research/provider to answer")
    # One /v1: the endpoint URL ends in /v1 and the caller's path starts with it (issue 15 too).
    assert provider.received[-1]["path"] == "/provider/v1/chat/completions"
    assert provider.received[-1]["headers"]["Authorization"] == f"Bearer {PROVIDER_TOKEN}"

    before = len(provider.received)
    for target in ESCAPES:
        status, answer = raw_request(lanes.gateway, "POST", target, body=body)
        assert status == 400, (target, status, answer)
        assert b"invalid_path" in answer
    assert len(provider.received) == before, "an escaping path reached the provider"
    assert all(r["path"].startswith("/provider/v1/") for r in provider.received)


def test_attack9_keys_from_another_namespace_do_not_each_get_a_bucket(lanes: Lanes) -> None:
    """research/open needs no key and allows 2 requests a minute. ml-team mints 8 keys in its
    own namespace and presents each: they all share the anonymous bucket."""
    engine = lanes.upstream("research-open")
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "open-engine", engine.url))
    create(lanes.admin, service(OTHER_NAMESPACE, "open", "open-engine", rateLimit={"requestsPerMinute": 2}))
    sink = lanes.upstream("ml-team-keyed")
    create(lanes.team, endpoint(TEAM_NAMESPACE, "keyed-engine", sink.url))
    create(lanes.team, service(TEAM_NAMESPACE, "keyed", "keyed-engine"))
    minted = {f"k{i}": f"ml-team-minted-key-{i}" for i in range(8)}
    create(lanes.team, secret(TEAM_NAMESPACE, "minted", minted, labels={NAMESPACE_KEY_LABEL: "true"}))
    # Once the gateway knows the minted keys, ml-team's own services require one.
    until(lambda: httpx.post(f"{lanes.gateway}/{TEAM_NAMESPACE}/keyed/v1/chat/completions", json={}, timeout=30).status_code == 401,
          "the gateway to load ml-team's keys")

    url = f"{lanes.gateway}/{OTHER_NAMESPACE}/open/v1/chat/completions"
    statuses = [
        httpx.post(url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                   json={"model": "open", "messages": [{"role": "user", "content": "hi"}]}).status_code
        for key in minted.values()
    ]
    assert statuses[:2] == [200, 200] and set(statuses[2:]) == {429}, statuses
    assert len(engine.received) == 2


def test_attack10_models_list_shows_only_what_the_caller_may_call(lanes: Lanes) -> None:
    """research/private (keyed) publishes secret-model; ml-team later publishes the same name
    keyless (a lure). /v1/models lists secret-model only to research's key holders, and never
    as ml-team's."""
    engine = lanes.upstream("research-private")
    lure = lanes.upstream("ml-team-lure")
    create(lanes.admin, secret(OTHER_NAMESPACE, "private-keys", {"k": "sk-private"}))
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "private-engine", engine.url))
    create(lanes.admin, service(OTHER_NAMESPACE, "private", "private-engine", modelNames=["secret-model"],
                                apiKeys=[{"name": "private-keys", "key": "k"}]))
    until(lambda: chat(lanes.gateway, "secret-model", key="sk-private").status_code == 200, "research/private to answer")
    time.sleep(1.1)  # a later creationTimestamp (the store stamps whole seconds)
    create(lanes.team, endpoint(TEAM_NAMESPACE, "lure-engine", lure.url))
    create(lanes.team, service(TEAM_NAMESPACE, "lure", "lure-engine", modelNames=["secret-model"]))
    until(lambda: condition(lanes.team, TEAM_NAMESPACE, "lure", "ModelNameConflict"), "the conflict on ml-team/lure")

    def listed(key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        answer = httpx.get(f"{lanes.gateway}/v1/models", headers=headers, timeout=30)
        assert answer.status_code == 200
        return {m["id"]: m["owned_by"] for m in answer.json()["data"]}

    assert listed("sk-private")["secret-model"] == OTHER_NAMESPACE
    for outsider in (None, "sk-unknown", lanes.team_token):
        seen = listed(outsider)
        assert "private" not in seen and "secret-model" not in seen, (outsider, seen)
    one = httpx.get(f"{lanes.gateway}/v1/models/secret-model", timeout=30)
    assert one.status_code == 404
    assert lure.received == []


def test_attack10_metrics_need_a_platform_token(lanes: Lanes) -> None:
    url = f"{lanes.gateway}/metrics"
    anonymous = httpx.get(url, timeout=30)
    assert anonymous.status_code == 401 and "platform" in anonymous.json()["error"]["message"]
    assert "laneway_gateway" not in anonymous.text
    team = httpx.get(url, headers={"Authorization": f"Bearer {lanes.team_token}"}, timeout=30)
    assert team.status_code == 403 and "laneway_gateway" not in team.text
    made_up = httpx.get(url, headers={"Authorization": "Bearer lw_not-a-token"}, timeout=30)
    assert made_up.status_code == 401 and "not known" in made_up.json()["error"]["message"]
    platform = httpx.get(url, headers={"Authorization": f"Bearer {lanes.platform_token}"}, timeout=30)
    assert platform.status_code == 200 and "laneway_gateway_" in platform.text


def test_attack10_no_key_token_or_query_secret_reaches_the_log(lanes: Lanes) -> None:
    """Requests carrying keys, tokens and signed query strings, including ones that fail and a
    malformed one that the HTTP server logs with its request line: none of those values
    appears in laneway up's log."""
    secrets = ("sk-log-probe-key", "SIGNATURE-log-probe", "SIGNATURE-malformed-probe", lanes.team_token)
    for path in ("/research/provider/v1/chat/completions", "/research/nowhere/v1/x", "/v1/chat/completions"):
        httpx.post(f"{lanes.gateway}{path}?X-Amz-Signature=SIGNATURE-log-probe", timeout=30,
                   headers={"Authorization": "Bearer sk-log-probe-key", "x-api-key": lanes.team_token},
                   json={"model": "gpt-prod", "messages": [{"role": "user", "content": "hi"}]})
    host, port = lanes.gateway.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /research/provider/v1/x?X-Amz-Signature=SIGNATURE-malformed-probe&q=caf\xc3\xa9 HTTP/1.1\r\n"
                     b"Host: gateway\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.")
    until(lambda: "Error handling request" in lanes.up.output, "the HTTP server to log the malformed request")
    log = lanes.up.output
    assert not [s for s in secrets if s in log]


def test_attack10_slow_callers_are_cut_off_by_the_platforms_policy(lanes: Lanes) -> None:
    """The platform bounds slow callers on its InferenceGateway (1 s here, against the 20 s
    default): a caller trickling its headers, or its body, is cut off and reaches nothing."""
    with up_client(lanes.up, lanes.platform_token) as platform:
        # The module's fleet already has the gateway (it opened loopback egress): set its policy.
        made = platform.patch(f"{GROUP}/inferencegateways/front-door", headers={"Content-Type": "application/merge-patch+json"},
                              content=json.dumps({"spec": {"policy": {"clientHeaderTimeout": "1s", "clientBodyTimeout": "1s"}}}))
        assert made.status_code == 200, made.text

        def held() -> bool:
            conditions = platform.get(f"{GROUP}/inferencegateways/front-door").json().get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        until(held, "the gateway to hold the InferenceGateway")
    engine = lanes.upstream("research-slow")
    create(lanes.admin, endpoint(OTHER_NAMESPACE, "slow-engine", engine.url))
    create(lanes.admin, service(OTHER_NAMESPACE, "slow", "slow-engine"))
    target = f"/{OTHER_NAMESPACE}/slow/v1/chat/completions"
    until(lambda: httpx.post(lanes.gateway + target, json={"messages": []}, timeout=30).status_code == 200, "research/slow to answer")
    answered = len(engine.received)

    give_up = 12.0  # well under the 20 s default: only the policy's 1 s can explain a cut
    with connect(lanes.gateway, timeout=30) as sock:
        headers = trickle(sock, f"POST {target} HTTP/1.1\r\nHost: gateway\r\nX-Pad: {'a' * 4000}\r\n\r\n".encode(),
                          every=0.05, give_up=give_up)
    assert headers.closed, f"a caller trickling headers was not cut off within {give_up}s"
    body = json.dumps({"model": "slow", "messages": [{"role": "user", "content": "x" * 2000}]}).encode()
    with connect(lanes.gateway, timeout=30) as sock:
        sock.sendall(f"POST {target} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode())
        slow_body = trickle(sock, body, every=0.05, give_up=give_up)
    assert slow_body.closed and slow_body.answer.startswith(b"HTTP/1.1 408"), slow_body.answer[:200]
    assert len(engine.received) == answered
