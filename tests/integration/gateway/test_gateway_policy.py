"""The balancing seam through real HTTP: a service's `spec.routing.policy` decides, the policy
sees the request as sent (model, caller, stream flag, prompt) and the endpoints already tried,
and switching the field back to the default takes effect on the next request."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import httpx
import pytest
from gateway_harness import Fleet, endpoint, secret, service

from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.health import EndpointView
from laneway.gateway.keys import fingerprint
from laneway.gateway.policy import _REGISTRY, BalancingPolicy
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target

SHARED = "You are the support assistant of a shop; answer in one sentence. "


@dataclass(frozen=True)
class Seen:
    model: str | None
    key_id: str
    stream: bool
    prompt: str
    tried: frozenset[str]


class FirstByName(BalancingPolicy):
    """The first untried endpoint in name order, or the second one when the prompt's last turn
    says 'second': deterministic, so the test can tell the policy decided. Records what it saw."""

    seen: ClassVar[list[Seen]] = []

    def choose(
        self,
        request: RequestView,
        entries: Sequence[Entry],
        states: Mapping[ObjectKey, EndpointView],
        *,
        now: float,
        rng: random.Random,
        tried: Collection[ObjectKey],
    ) -> Target | Unavailable:
        FirstByName.seen.append(Seen(request.model, request.key_id, request.stream, request.prompt.text,
                                     frozenset(k.name for k in tried)))
        usable = sorted((t for e in entries for t in e.targets if t.key not in tried), key=lambda t: t.name)
        if not usable:
            return Unavailable(False, "every endpoint tried")
        last = request.prompt.messages[-1].text if request.prompt.messages else ""
        return usable[1] if last == "second" and len(usable) > 1 else usable[0]


@pytest.fixture
def first_by_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FirstByName]]:
    monkeypatch.setattr(FirstByName, "name", "FirstByName", raising=False)
    monkeypatch.setitem(_REGISTRY, "FirstByName", FirstByName)
    FirstByName.seen = []
    yield FirstByName


def _ask(c: httpx.Client, text: str, **extra: object) -> httpx.Response:
    return c.post("/v1/chat/completions", json={
        "model": "svc", "messages": [{"role": "system", "content": SHARED}, {"role": "user", "content": text}], **extra,
    })


def test_the_named_policy_decides_and_sees_the_request(fleet: Fleet, first_by_name: type[FirstByName]) -> None:
    a, b, c = fleet.upstream("a"), fleet.upstream("b"), fleet.upstream("c")
    fleet.put(
        secret("keys", {"alice": "sk-alice"}),
        endpoint("a", a.url), endpoint("b", b.url), endpoint("c", c.url),
        service("svc", [{"selector": {"matchLabels": {"app": "m"}}}], apiKeys=[{"name": "keys", "key": "alice"}],
                routing={"policy": "FirstByName"}),
    )
    with httpx.Client(base_url=fleet.address, headers={"Authorization": "Bearer sk-alice"}) as client:
        picks = [_ask(client, "refund?").headers["x-laneway-endpoint"] for _ in range(20)]
        assert picks == ["a"] * 20  # least outstanding would have spread these
        assert _ask(client, "second").headers["x-laneway-endpoint"] == "b"
        streamed = _ask(client, "stream it", stream=True)
        assert streamed.status_code == 200 and streamed.headers["x-laneway-endpoint"] == "a"

    seen = first_by_name.seen[-1]
    assert seen.model == "svc" and seen.stream and seen.tried == frozenset()
    assert seen.key_id == fingerprint("sk-alice")[:12], "the policy knows the caller by fingerprint only"
    assert "sk-alice" not in repr(first_by_name.seen)
    assert seen.prompt.startswith(f"system\x1f{SHARED}\x1e") and seen.prompt.endswith("user\x1fstream it\x1e")
    assert len(a.received) == 21 and len(b.received) == 1 and not c.received


def test_a_retry_asks_the_policy_again_without_the_failed_endpoint(fleet: Fleet, first_by_name: type[FirstByName]) -> None:
    bad, good = fleet.upstream("a-bad", mode="fail"), fleet.upstream("b-good")
    fleet.put(endpoint("a-bad", bad.url), endpoint("b-good", good.url),
              service("svc", [{"selector": {"matchLabels": {"app": "m"}}}], routing={"policy": "FirstByName"}))
    with httpx.Client(base_url=fleet.address) as client:
        r = _ask(client, "hello")
    assert r.status_code == 200 and r.headers["x-laneway-endpoint"] == "b-good"
    assert [s.tried for s in first_by_name.seen] == [frozenset(), frozenset({"a-bad"})]
    assert len(bad.received) == 1 and len(good.received) == 1


def test_switching_back_to_the_default_spreads_again(fleet: Fleet, first_by_name: type[FirstByName]) -> None:
    a, b = fleet.upstream("a"), fleet.upstream("b")
    entries = [{"selector": {"matchLabels": {"app": "m"}}}]
    fleet.put(endpoint("a", a.url), endpoint("b", b.url), service("svc", entries, routing={"policy": "FirstByName"}))
    with httpx.Client(base_url=fleet.address) as client:
        assert {_ask(client, "x").headers["x-laneway-endpoint"] for _ in range(10)} == {"a"}
        fleet.put(service("svc", entries))
        assert {_ask(client, "x").headers["x-laneway-endpoint"] for _ in range(60)} == {"a", "b"}
