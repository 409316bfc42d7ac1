"""Rounds folded into the status, and ejection that never leaves a service with nothing."""

from __future__ import annotations

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import ModelEndpoint, ModelService, QualitySpec
from laneway.gateway.table import build_table
from laneway.quality.rounds import ProbeResult, degraded_message, fold
from laneway.testing.fleet import LOOPBACK_EGRESS

SPEC = QualitySpec.model_validate({"probes": [{"name": "p", "prompt": "q", "exact": "a"}], "window": 3, "minPassRate": 0.6})
GATEWAY = InferenceGateway.model_validate({"metadata": {"name": "gw"}, "spec": {"egress": LOOPBACK_EGRESS}})
OK = ProbeResult("p", True, "", "a")
BAD = ProbeResult("p", False, "expected exactly 'a'", "zebra")


def test_pass_rate_over_the_last_rounds_and_the_last_failure_kept() -> None:
    q = fold(None, {"e1": ("Primary", [OK]), "e2": ("Primary", [BAD])}, SPEC, now=0.0)
    assert [(e.name, e.pass_rate, e.failing) for e in q.endpoints] == [("e1", 1.0, False), ("e2", 0.0, True)]
    assert degraded_message(q) == "e2 passes 0%: p: expected exactly 'a'"
    q = fold(q, {"e1": ("Primary", [BAD]), "e2": ("Primary", [OK])}, SPEC, now=1.0)
    q = fold(q, {"e1": ("Primary", [OK]), "e2": ("Primary", [OK])}, SPEC, now=2.0)
    q = fold(q, {"e1": ("Primary", [OK]), "e2": ("Primary", [OK])}, SPEC, now=3.0)
    e1, e2 = q.endpoints
    assert e1.recent == [False, True, True] and not e1.failing and e1.last_failure is not None
    assert e2.recent == [True, True, True] and e2.pass_rate == 1.0 and degraded_message(q) is None


def _table(failing: set[str]) -> list[str]:
    eps = [
        ModelEndpoint.model_validate({"metadata": {"name": n, "namespace": "ml", "labels": {"app": "x"}}, "spec": {"url": f"http://127.0.0.1:9/{n}"}, "status": {"ready": True}})
        for n in ("e1", "e2")
    ]
    quality = {"observedAt": "2026-01-01T00:00:00Z", "endpoints": [{"name": n, "failing": n in failing} for n in ("e1", "e2")]}
    svc = ModelService.model_validate(
        {
            "metadata": {"name": "s", "namespace": "ml"},
            "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "x"}}}], "quality": {**SPEC.wire(), "eject": True}},
            "status": {"quality": quality},
        }
    )
    [route] = build_table(services=[svc], endpoints=eps, secrets=[], gateways=[GATEWAY]).services.values()
    return sorted(t.name for e in route.tiers["Primary"] for t in e.targets) + list(route.problems)


def test_eject_removes_failing_endpoints_but_never_all() -> None:
    assert _table(set()) == ["e1", "e2"]
    assert _table({"e2"}) == ["e1", "ejected for failing quality probes: e2"]
    kept = _table({"e1", "e2"})
    assert kept[:2] == ["e1", "e2"] and "none ejected" in kept[2]
