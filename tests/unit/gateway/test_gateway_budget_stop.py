"""A namespace that spent its budget loses its paid overflow in the routing table, computed
once per table: priced or not, an endpoint laneway did not place stops; its own replicas and
other namespaces keep theirs; break-glass keeps it."""

from __future__ import annotations

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.gateway.table import build_table
from laneway.testing.fleet import LOOPBACK_EGRESS


def endpoint(name: str, ns: str, role: str, *, replica: bool = False, priced: bool = True) -> ModelEndpoint:
    meta: dict[str, object] = {"name": name, "namespace": ns, "labels": {"role": role}}
    if replica:
        meta["ownerReferences"] = [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": name, "uid": name, "controller": True}]
    spec: dict[str, object] = {"url": "http://127.0.0.1:9/v1"}
    if priced:
        spec["pricing"] = {"perMillionInputTokens": 1.0, "perMillionOutputTokens": 1.0}
    return ModelEndpoint.model_validate({"metadata": meta, "spec": spec, "status": {"ready": True}})


def service(ns: str, *, break_glass: bool = False) -> ModelService:
    return ModelService.model_validate(
        {
            "metadata": {"name": "chat", "namespace": ns},
            "spec": {
                "breakGlass": break_glass,
                "endpoints": [
                    {"name": "own", "selector": {"matchLabels": {"role": "own"}}},
                    {"name": "more", "tier": "Overflow", "selector": {"matchLabels": {"role": "overflow"}}},
                ],
            },
        }
    )


def gateway(*spent: str) -> InferenceGateway:
    budgets = [{"namespace": ns, "periodStart": "2026-01-01T00:00:00Z", "spent": 5.0, "limit": 5.0, "exhausted": True} for ns in spent]
    return InferenceGateway.model_validate({"metadata": {"name": "gw"}, "spec": {"egress": LOOPBACK_EGRESS}, "status": {"budgets": budgets}})


def overflow(ns: str, *, spent: tuple[str, ...], break_glass: bool = False) -> list[str]:
    eps = [
        endpoint("own-0", ns, "own", replica=True),
        endpoint("paid", ns, "overflow"),
        endpoint("unpriced", ns, "overflow", priced=False),
        endpoint("spare-0", ns, "overflow", replica=True),
    ]
    table = build_table(services=[service(ns, break_glass=break_glass)], endpoints=eps, secrets=[], gateways=[gateway(*spent)])
    route = next(iter(table.services.values()))
    return sorted(t.name for e in route.tiers["Overflow"] for t in e.targets)


def test_spent_namespace_keeps_only_its_own_replicas_in_overflow() -> None:
    assert overflow("ml", spent=()) == ["paid", "spare-0", "unpriced"]
    assert overflow("ml", spent=("ml",)) == ["spare-0"]
    assert overflow("ml", spent=("other",)) == ["paid", "spare-0", "unpriced"]
    assert overflow("ml", spent=("ml",), break_glass=True) == ["paid", "spare-0", "unpriced"]


def test_the_stop_is_said_in_the_route_problems() -> None:
    eps = [endpoint("own-0", "ml", "own", replica=True), endpoint("paid", "ml", "overflow")]
    table = build_table(services=[service("ml")], endpoints=eps, secrets=[], gateways=[gateway("ml")])
    [route] = table.services.values()
    assert any("spent its budget" in p and "paid" in p for p in route.problems)
