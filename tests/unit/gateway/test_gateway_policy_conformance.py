"""Every registered balancing policy keeps the seam's rules (see `laneway.gateway.policy`).

Run over every name in the registry, so a new policy is checked the moment it registers:
it is constructible with no arguments, its `choose` has the seam's signature, and over many
random fleets (entries, weights, healthy, ejected, full and already-tried endpoints, engine
load present, stale or missing, requests with and without a prompt) its answer is always one
the proxy may use, with `Unavailable` exactly when it must be and `saturated` telling the truth.
"""

from __future__ import annotations

import dataclasses
import inspect
import random

import pytest

from laneway.api.kinds.serving import DEFAULT_ROUTING_POLICY, ModelService
from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.health import EndpointState, EngineLoad
from laneway.gateway.policy import BalancingPolicy, policy_class, policy_names
from laneway.gateway.request_view import RequestView
from laneway.gateway.table import build_table
from laneway.gateway.weights import Entry, Target

NOW = 1000.0
SERVICE = ObjectKey("ml", "chat")
REQUESTS = (
    RequestView(service=SERVICE, model=None, path="/v1/models", key_id="anonymous"),
    RequestView(
        service=SERVICE,
        model="chat",
        path="/v1/chat/completions",
        key_id="0123456789ab",
        payload={"model": "chat", "stream": True, "messages": [{"role": "system", "content": "You are terse. " * 40},
                                                                {"role": "user", "content": "hi"}]},
    ),
    RequestView(service=SERVICE, model="chat", path="/v1/completions", key_id="ba9876543210",
                payload={"model": "chat", "prompt": [1, 2, 3]}),
)


def _fleet(rng: random.Random) -> tuple[list[Entry], dict[ObjectKey, EndpointState], set[ObjectKey]]:
    """A random tier: entries of random weight over endpoints in every condition the proxy sees."""
    entries: list[Entry] = []
    states: dict[ObjectKey, EndpointState] = {}
    tried: set[ObjectKey] = set()
    n = 0
    for index in range(rng.randint(1, 3)):
        targets: list[Target] = []
        for _ in range(rng.randint(1, 4)):
            n += 1
            key = ObjectKey("ml", f"e{n}")
            cap = rng.choice([None, 1, 2, 4])
            targets.append(Target(key=key, name=key.name, base_url=f"http://{key.name}:80", model=None, max_in_flight=cap,
                                  labels=(), entry=f"endpoints[{index}]"))
            condition = rng.choice(["none", "idle", "busy", "full", "ejected", "probe-due", "throttled"])
            if condition == "none":
                continue  # never seen by this gateway: no state yet
            st = EndpointState(in_flight=rng.randint(0, 3))
            if condition == "full" and cap is not None:
                st.in_flight = cap
            if condition == "throttled":
                st.throttled_until = NOW + 1  # it answered 429 a moment ago
            if condition in ("ejected", "probe-due"):
                st.probing = True
                st.in_flight = 0
                st.ejected_until = NOW + 5 if condition == "ejected" else NOW - 1
            st.load = rng.choice([None, EngineLoad(observed_at=NOW - rng.choice([0.1, 120.0]), waiting=rng.randint(0, 9),
                                                   running=rng.randint(0, 9), kv_cache_usage=rng.random())])
            states[key] = st
            if rng.random() < 0.2:
                tried.add(key)
        entries.append(Entry(index=index, tier="Primary", weight=rng.randint(1, 5), targets=tuple(targets), name=f"endpoints[{index}]"))
    return entries, states, tried


def _usable(t: Target, states: dict[ObjectKey, EndpointState], tried: set[ObjectKey]) -> bool:
    st = states.get(t.key)
    return t.key not in tried and (st is None or (st.available(NOW) and not st.saturated(t.max_in_flight, NOW)))


def _full(t: Target, states: dict[ObjectKey, EndpointState], tried: set[ObjectKey]) -> bool:
    st = states.get(t.key)
    return t.key not in tried and st is not None and st.available(NOW) and st.saturated(t.max_in_flight, NOW)


def test_the_default_policy_is_registered() -> None:
    assert DEFAULT_ROUTING_POLICY in policy_names()


@pytest.mark.parametrize("name", policy_names())
def test_policy_registers_under_its_name_and_has_the_seams_signature(name: str) -> None:
    cls = policy_class(name)
    assert issubclass(cls, BalancingPolicy) and cls.name == name
    assert not inspect.isabstract(cls)
    assert isinstance(cls(), BalancingPolicy)
    want = inspect.signature(BalancingPolicy.choose)
    got = inspect.signature(cls.choose)
    assert [(p.name, p.kind) for p in got.parameters.values()] == [(p.name, p.kind) for p in want.parameters.values()]


@pytest.mark.parametrize("name", policy_names())
def test_policy_answers_only_what_the_proxy_may_use(name: str) -> None:
    policy = policy_class(name)()
    world = random.Random(20261205)
    chosen = unavailable = 0
    for round_ in range(400):
        entries, states, tried = _fleet(world)
        request = REQUESTS[round_ % len(REQUESTS)]
        before = {k: dataclasses.replace(st) for k, st in states.items()}
        picked = policy.choose(request, entries, states, now=NOW, rng=random.Random(round_), tried=frozenset(tried))
        again = policy_class(name)().choose(request, entries, states, now=NOW, rng=random.Random(round_), tried=frozenset(tried))
        assert states == before, "a policy must not change the endpoint states"
        targets = [t for e in entries for t in e.targets]
        usable = [t for t in targets if _usable(t, states, tried)]
        if isinstance(picked, Unavailable):
            unavailable += 1
            assert picked.reason
            if usable:
                assert picked.saturated, "declining a usable endpoint is only allowed as saturation (it sends the request on)"
            else:
                assert picked.saturated == any(_full(t, states, tried) for t in targets)
        else:
            chosen += 1
            assert picked in targets, "the answer must be one of the entries' targets"
            assert _usable(picked, states, tried), f"{picked.name} is tried, ejected or full"
        assert type(again) is type(picked), "same inputs, same seed: the same kind of answer"
    assert chosen and unavailable


@pytest.mark.parametrize("name", policy_names())
def test_policy_serves_a_fresh_fleet_and_nothing_when_all_is_tried(name: str) -> None:
    policy = policy_class(name)()
    targets = tuple(Target(key=ObjectKey("ml", n), name=n, base_url=f"http://{n}:80", model=None, max_in_flight=None, labels=())
                    for n in ("a", "b", "c"))
    entries = [Entry(index=0, tier="Primary", weight=1, targets=targets)]
    for request in REQUESTS:
        assert isinstance(policy.choose(request, entries, {}, now=NOW, rng=random.Random(1), tried=()), Target)
        none_left = policy.choose(request, entries, {}, now=NOW, rng=random.Random(1), tried={t.key for t in targets})
        assert isinstance(none_left, Unavailable) and not none_left.saturated
        assert isinstance(policy.choose(request, [], {}, now=NOW, rng=random.Random(1), tried=()), Unavailable)


@pytest.mark.parametrize("name", policy_names())
def test_a_service_naming_the_policy_gets_it_in_its_route(name: str) -> None:
    svc = ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "a"}}}], "routing": {"policy": name}},
    })
    route = build_table(services=[svc], endpoints=[], secrets=[]).services[SERVICE]
    assert route.policy is policy_class(name) and route.problems == ()
