"""The balancing seam with plain data: LeastOutstanding as a pure function (request view and
states in, choice out), the lazy request view, `spec.routing.policy` admission, and the
proxy's one policy instance per service."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from laneway.api.errors import InvalidObject
from laneway.api.kinds.serving import ModelService
from laneway.api.manifest import parse_object
from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.config import GatewayConfig
from laneway.gateway.health import EndpointState, EngineLoad
from laneway.gateway.policies.least_outstanding import LeastOutstanding
from laneway.gateway.policy import (
    _REGISTRY,
    BalancingPolicy,
    UnknownPolicy,
    policy_class,
    policy_names,
)
from laneway.gateway.proxy import Proxy
from laneway.gateway.request_view import Message, RequestView, prompt_of
from laneway.gateway.table import build_table
from laneway.gateway.weights import Entry, Target

NS = "ml"
SVC = ObjectKey(NS, "chat")


def target(name: str, cap: int | None = None) -> Target:
    return Target(key=ObjectKey(NS, name), name=name, base_url=f"http://{name}:80", model=None, max_in_flight=cap, labels=())


def entry(*targets: Target, weight: int = 1, index: int = 0) -> Entry:
    return Entry(index=index, tier="Primary", weight=weight, targets=targets)


def view(content: str = "hi", **payload: object) -> RequestView:
    body = {"model": "chat", "messages": [{"role": "user", "content": content}], **payload}
    return RequestView(service=SVC, model="chat", path="/v1/chat/completions", key_id="0123456789ab", payload=body)


def service(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "chat", "namespace": NS},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "a"}}}], **spec},
    }


# ---- LeastOutstanding, a pure function -----------------------------------------------------


def test_least_outstanding_sends_to_the_less_busy_of_two() -> None:
    states = {ObjectKey(NS, "a"): EndpointState(in_flight=4), ObjectKey(NS, "b"): EndpointState(in_flight=1)}
    policy = LeastOutstanding()
    picks = {policy.choose(view(), [entry(target("a"), target("b"))], states, now=0.0, rng=random.Random(s), tried=()) for s in range(30)}
    assert picks == {target("b")}


def test_least_outstanding_ignores_the_request_and_never_parses_its_prompt() -> None:
    states = {ObjectKey(NS, n): EndpointState(in_flight=i) for i, n in enumerate("abcd")}
    entries = [entry(*(target(n) for n in "abcd"))]
    policy = LeastOutstanding()
    for seed in range(50):
        one, other = view("a long shared system prompt"), view("something else entirely", stream=True)
        a = policy.choose(one, entries, states, now=0.0, rng=random.Random(seed), tried=())
        b = policy.choose(other, entries, states, now=0.0, rng=random.Random(seed), tried=())
        assert a == b
        assert not one.prompt_parsed and not other.prompt_parsed, "the default policy must not pay for the prompt"


def test_least_outstanding_follows_entry_weights() -> None:
    entries = [entry(target("a"), weight=9, index=0), entry(target("b"), weight=1, index=1)]
    rng = random.Random(3)
    hits = Counter(LeastOutstanding().choose(view(), entries, {}, now=0.0, rng=rng, tried=()).name for _ in range(4000))  # type: ignore[union-attr]
    assert 0.87 < hits["a"] / 4000 < 0.93


def test_least_outstanding_skips_ejected_tried_and_full_endpoints() -> None:
    cfg = GatewayConfig(eject_after_failures=1, ejection_seconds=10)
    ejected = EndpointState()
    ejected.on_failure(100.0, cfg)
    states = {ObjectKey(NS, "a"): ejected, ObjectKey(NS, "b"): EndpointState(in_flight=2)}
    entries = [entry(target("a"), target("b", cap=2), target("c"))]
    policy = LeastOutstanding()
    assert policy.choose(view(), entries, states, now=105.0, rng=random.Random(1), tried=()) == target("c")
    assert policy.choose(view(), entries, states, now=105.0, rng=random.Random(1), tried={ObjectKey(NS, "c")}) == Unavailable(
        True, "every endpoint is at its maxInFlight"
    )
    # Once the ejection is up, exactly one probe may go to a.
    assert policy.choose(view(), entries, states, now=110.0, rng=random.Random(1), tried={ObjectKey(NS, "c")}) == target("a")


def test_least_outstanding_without_a_usable_endpoint_says_why() -> None:
    policy = LeastOutstanding()
    assert policy.choose(view(), [], {}, now=0.0, rng=random.Random(1), tried=()) == Unavailable(False, "no ready endpoint")
    cfg = GatewayConfig(eject_after_failures=1)
    down = EndpointState()
    down.on_failure(0.0, cfg)
    assert policy.choose(view(), [entry(target("a"))], {ObjectKey(NS, "a"): down}, now=1.0, rng=random.Random(1), tried=()) == Unavailable(
        False, "every endpoint is failing or ejected"
    )


def test_least_outstanding_counts_the_engines_own_queue_while_the_reading_is_fresh() -> None:
    """Other gateways (or callers straight to the engine) load it too: a fresh reading that says
    50 are waiting outweighs this gateway's 1 in flight; a stale one is ignored."""
    entries = [entry(target("a"), target("b"))]
    bare = {ObjectKey(NS, "a"): EndpointState(in_flight=1), ObjectKey(NS, "b"): EndpointState(in_flight=3)}

    def loaded(observed_at: float) -> dict[ObjectKey, EndpointState]:
        return {ObjectKey(NS, "a"): EndpointState(in_flight=1, load=EngineLoad(observed_at=observed_at, waiting=50)),
                ObjectKey(NS, "b"): EndpointState(in_flight=3, load=EngineLoad(observed_at=observed_at, waiting=0))}

    for seed in range(20):
        assert LeastOutstanding().choose(view(), entries, bare, now=0.0, rng=random.Random(seed), tried=()) == target("a")
        assert LeastOutstanding().choose(view(), entries, loaded(0.0), now=1.0, rng=random.Random(seed), tried=()) == target("b")
        assert LeastOutstanding().choose(view(), entries, loaded(0.0), now=60.0, rng=random.Random(seed), tried=()) == target("a")


# ---- the request view ------------------------------------------------------------------------


def test_prompt_is_derived_on_first_access_only() -> None:
    v = view("hello")
    assert not v.prompt_parsed
    assert v.prompt.messages == (Message("user", "hello"),)
    assert v.prompt_parsed and v.prompt is v.prompt


def test_request_view_is_read_only() -> None:
    v = view("hello")
    for name in ("service", "model", "path", "key_id", "stream", "prompt", "namespace"):
        with pytest.raises(AttributeError):
            setattr(v, name, None)
    with pytest.raises(AttributeError):
        v.extra = 1  # type: ignore[attr-defined]


def test_prompt_of_chat_anthropic_completion_and_parts() -> None:
    chat = prompt_of({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [
        {"type": "text", "text": "what is "}, {"type": "text", "text": "this?"}, {"type": "image_url", "image_url": {"url": "u"}}]}]})
    assert chat.messages == (
        Message("system", "be brief"),
        Message("user", 'what is this?{"image_url":{"url":"u"},"type":"image_url"}'),
    )
    anthropic = prompt_of({"system": "be brief", "messages": [{"role": "user", "content": "hi"}]})
    assert anthropic.messages == (Message("system", "be brief"), Message("user", "hi"))
    assert prompt_of({"prompt": "once upon"}).messages == (Message("prompt", "once upon"),)
    assert prompt_of({"prompt": [1, 23]}).text != prompt_of({"prompt": [12, 3]}).text
    assert prompt_of({"model": "x"}).messages == ()


def test_equal_leading_turns_give_equal_prompt_text_prefixes() -> None:
    shared = [{"role": "system", "content": "You answer support questions. " * 20}]
    one = prompt_of({"messages": [*shared, {"role": "user", "content": "refund?"}]}).text
    two = prompt_of({"messages": [*shared, {"role": "user", "content": "shipping?"}]}).text
    common = len(prompt_of({"messages": shared}).text)
    assert one[:common] == two[:common] and one != two


def test_stream_flag_and_namespace() -> None:
    assert view(stream=True).stream and not view().stream and not view(stream="yes").stream
    assert view().namespace == NS
    assert not RequestView(service=SVC, model=None, path="/v1/models", key_id="anonymous").stream


# ---- spec.routing.policy at admission and in the table ------------------------------------


def test_unknown_policy_is_refused_at_admission_listing_the_registered_ones() -> None:
    with pytest.raises(InvalidObject) as err:
        parse_object(service(routing={"policy": "RoundRobin"}))
    problems = {p.path: p.message for p in err.value.problems}
    assert "spec.routing.policy" in problems
    assert "RoundRobin" in problems["spec.routing.policy"]
    for name in policy_names():
        assert name in problems["spec.routing.policy"]


def test_policy_names_are_never_imported_or_evaluated() -> None:
    import sys

    for hostile in ("antigravity", "os.system", "laneway.gateway.policies.least_outstanding.LeastOutstanding", "__import__"):
        with pytest.raises(InvalidObject):
            parse_object(service(routing={"policy": hostile}))
    assert "antigravity" not in sys.modules


def test_routing_defaults_to_least_outstanding() -> None:
    svc = parse_object(service())
    assert isinstance(svc, ModelService) and svc.spec.routing is None and svc.spec.routing_policy == "LeastOutstanding"
    assert "routing" not in svc.wire()["spec"]
    route = build_table(services=[svc], endpoints=[], secrets=[]).services[SVC]
    assert route.policy is LeastOutstanding


class _Pinned(BalancingPolicy):
    """Always the first usable target in name order (a test policy, registered per test)."""

    def choose(self, request, entries, states, *, now, rng, tried):  # type: ignore[no-untyped-def]
        usable = sorted((t for e in entries for t in e.targets if t.key not in tried), key=lambda t: t.name)
        return usable[0] if usable else Unavailable(False, "nothing left")


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> type[BalancingPolicy]:
    monkeypatch.setattr(_Pinned, "name", "Pinned", raising=False)
    monkeypatch.setitem(_REGISTRY, "Pinned", _Pinned)
    return _Pinned


def test_a_stored_name_this_build_lacks_balances_by_default_and_says_so(pinned: type[BalancingPolicy], monkeypatch: pytest.MonkeyPatch) -> None:
    svc = parse_object(service(routing={"policy": "Pinned"}))
    monkeypatch.delitem(_REGISTRY, "Pinned")
    with pytest.raises(UnknownPolicy):
        policy_class("Pinned")
    route = build_table(services=[svc], endpoints=[], secrets=[]).services[SVC]  # type: ignore[list-item]
    assert route.policy is LeastOutstanding
    assert route.problems == (
        "routing.policy: unknown balancing policy 'Pinned': use one of " + ", ".join(policy_names()) + "; balancing with LeastOutstanding meanwhile",
    )


def test_proxy_keeps_one_policy_per_service_across_swaps(pinned: type[BalancingPolicy]) -> None:
    proxy = Proxy(config=GatewayConfig())

    def table(**spec: object) -> None:
        svc = parse_object(service(**spec))
        proxy.swap(build_table(services=[svc], endpoints=[], secrets=[]))  # type: ignore[list-item]

    table(routing={"policy": "Pinned"})
    first = proxy.policy_for(proxy.table.services[SVC])
    assert isinstance(first, _Pinned)
    table(routing={"policy": "Pinned"}, queueTimeout="2s")  # an unrelated edit keeps what it learned
    assert proxy.policy_for(proxy.table.services[SVC]) is first
    table()  # back to the default: a new instance of it
    assert SVC not in proxy.policies
    assert isinstance(proxy.policy_for(proxy.table.services[SVC]), LeastOutstanding)
    proxy.swap(build_table(services=[], endpoints=[], secrets=[]))  # the service is gone
    assert proxy.policies == {}
