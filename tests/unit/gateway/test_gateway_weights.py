from __future__ import annotations

import random
from collections import Counter
from typing import Any

from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable, choose
from laneway.gateway.health import EndpointState
from laneway.gateway.table import build_table
from laneway.gateway.weights import weights


def ep(name: str, labels: dict[str, str], *, ready: bool | None = None, ns: str = "ml", writer: str | None = None,
       **spec: Any) -> ModelEndpoint:
    annotations = {WRITTEN_BY_ANNOTATION: writer} if writer else {}
    return ModelEndpoint.model_validate(
        {"metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
         "spec": {"url": f"http://{name}:80", **spec}, "status": {"ready": ready}}
    )


def svc(entries: list[dict[str, Any]], **spec: Any) -> ModelService:
    return ModelService.model_validate({"metadata": {"name": "s", "namespace": "ml"}, "spec": {"endpoints": entries, **spec}})


A = {"selector": {"matchLabels": {"app": "a"}}}
B = {"selector": {"matchLabels": {"app": "b"}}}


def test_entry_share_is_spread_over_its_ready_endpoints() -> None:
    w = weights(svc([{**A, "weight": 3}, {**B, "weight": 1}]), [ep("a1", {"app": "a"}), ep("a2", {"app": "a"}), ep("b1", {"app": "b"})])
    assert w.shares() == [("a1", "Primary", 0.375), ("a2", "Primary", 0.375), ("b1", "Primary", 0.25)]


def test_entry_without_ready_endpoint_is_dropped_and_others_keep_the_traffic() -> None:
    w = weights(svc([{**A, "weight": 3}, {**B, "weight": 1}]), [ep("a1", {"app": "a"}), ep("b1", {"app": "b"}, ready=False)])
    assert w.shares() == [("a1", "Primary", 1.0)]
    assert [(e.name, e.reason) for e in w.excluded] == [("b1", "not ready (status.ready is false)")]


def test_scaling_an_entry_does_not_change_its_share() -> None:
    one = weights(svc([A, B]), [ep("a1", {"app": "a"}), ep("b1", {"app": "b"})]).shares()
    many = weights(svc([A, B]), [ep(f"a{i}", {"app": "a"}) for i in range(4)] + [ep("b1", {"app": "b"})]).shares()
    assert dict((n, s) for n, _, s in one)["b1"] == dict((n, s) for n, _, s in many)["b1"] == 0.5


def test_data_boundary_excludes_in_every_tier_with_the_failed_requirement() -> None:
    s = svc([A, {**B, "tier": "Overflow"}], dataBoundary={"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu-west", "eu-central"]}]})
    # written by the platform lane (an admin token): its labels are what the boundary reads
    w = weights(s, [ep(n, labels, writer="platform") for n, labels in
                    [("a1", {"app": "a", "region": "eu-west"}), ("b1", {"app": "b", "region": "us-east"}), ("b2", {"app": "b"})]])
    assert [t.name for e in w.entries for t in e.targets] == ["a1"]
    assert {e.name: e.reason for e in w.excluded} == {
        "b1": "outside the data boundary (labels do not satisfy region in (eu-west,eu-central))",
        "b2": "outside the data boundary (labels do not satisfy region in (eu-west,eu-central))",
    }


def test_other_namespaces_and_deleted_endpoints_are_not_used() -> None:
    deleting = ep("a2", {"app": "a"})
    deleting.metadata.deletion_timestamp = "2024-01-01T00:00:00Z"
    w = weights(svc([A]), [ep("a1", {"app": "a"}, ns="other"), deleting])
    assert w.entries == () and [(e.name, e.reason) for e in w.excluded] == [("a2", "being deleted")]


def test_rewrite_path_and_model_name_index() -> None:
    t = build_table(
        services=[svc([A], modelNames=["llama"])],
        endpoints=[ep("a1", {"app": "a"}, rewritePath="/openai/")],
        secrets=[],
    )
    route = t.services[ObjectKey("ml", "s")]
    assert route.tiers["Primary"][0].targets[0].base_url == "http://a1:80/openai"
    assert t.by_model == {"s": (route.key,), "llama": (route.key,)}


def test_weighted_choice_follows_the_weights() -> None:
    w = weights(svc([{**A, "weight": 9}, {**B, "weight": 1}]), [ep("a1", {"app": "a"}), ep("b1", {"app": "b"})])
    rng = random.Random(7)
    hits = Counter(choose(w.entries, {}, now=0.0, rng=rng).name for _ in range(5000))  # type: ignore[union-attr]
    assert 0.87 < hits["a1"] / 5000 < 0.93


def test_power_of_two_choices_picks_the_less_loaded() -> None:
    w = weights(svc([A]), [ep("a1", {"app": "a"}), ep("a2", {"app": "a"})])
    states = {ObjectKey("ml", "a1"): EndpointState(in_flight=5), ObjectKey("ml", "a2"): EndpointState(in_flight=1)}
    rng = random.Random(1)
    assert {choose(w.entries, states, now=0.0, rng=rng).name for _ in range(50)} == {"a2"}  # type: ignore[union-attr]


def test_saturated_and_tried_endpoints_are_skipped() -> None:
    w = weights(svc([A]), [ep("a1", {"app": "a"}, maxInFlight=2), ep("a2", {"app": "a"})])
    states = {ObjectKey("ml", "a1"): EndpointState(in_flight=2)}
    rng = random.Random(1)
    assert choose(w.entries, states, now=0.0, rng=rng, tried={ObjectKey("ml", "a2")}) == Unavailable(True, "every endpoint is at its maxInFlight")
