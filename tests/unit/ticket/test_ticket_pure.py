"""Composition, revisions, canary judgement, retirement timeline and audit, with plain data."""

from __future__ import annotations

import pytest
from ticket_builders import NOW, fleet, providers, ticket

from laneway.api.kinds import InferenceTicket, ModelDeployment, ModelService
from laneway.api.manifest import load_text
from laneway.store.memory import MemoryStore
from laneway.ticket.approval import approval_record
from laneway.ticket.audit import audit, retires_text
from laneway.ticket.canary import CanaryBudget, TrafficFigures, budget_of, figures_from_status, judge_canary
from laneway.ticket.compose import Canary, CompositionError, compose
from laneway.ticket.labels import DEPLOYMENT_LABEL, OWNER_TEAM_ANNOTATION, ROLE_LABEL, TICKET_LABEL
from laneway.ticket.retirement import DAY, RetirementRule, parse_retire_after, retirement_state
from laneway.ticket.revisions import describe_change, find_revision, read_history, record, restored
from laneway.ticket.scaffold import new_ticket

# composition ------------------------------------------------------------------------------


def test_compose_maps_every_row() -> None:
    c = compose(ticket(), classes=fleet().classes, providers=providers())
    d, s = c.deployment, c.service
    assert d.name == "pr-review" and d.namespace == "internal-tools" and d.spec.replicas == 2
    assert d.spec.template.spec.cluster_selector.match_labels == {"laneway.dev/jurisdiction": "eu"}
    assert d.spec.template.spec.engines[0].members[0].container.image == "vllm/vllm-openai:v0.23.0"
    assert d.spec.revision_history_limit == 5 and d.spec.retire_after == "2099-06-30"
    assert d.metadata.annotations[OWNER_TEAM_ANNOTATION] == "internal-tools"
    assert d.spec.template.spec.model_cache_ref and d.spec.template.spec.model_cache_ref.name == "pr-review"
    assert s.name == "pr-review" and s.spec.model_names == ["coder"] and s.spec.owner and s.spec.owner.contact == "#tools-oncall"
    assert s.spec.data_boundary and s.spec.data_boundary.match_labels == {"laneway.dev/jurisdiction": "eu"}
    assert s.spec.slo and s.spec.slo.p95_latency == "4s"
    tiers = {e.name: e.tier for e in s.spec.endpoints}
    assert tiers == {"primary": "Primary", "overflow": "Overflow"}
    (ep,) = c.endpoints
    assert ep.metadata.labels[ROLE_LABEL] == "overflow" and ep.spec.auth is not None
    assert s.spec.data_boundary.matches(ep.metadata.labels)  # the overflow stays inside the boundary
    assert all(o.metadata.labels[TICKET_LABEL] == "pr-review" for o in c.objects())


def test_compose_is_deterministic_and_owned_once_stored() -> None:
    t = ticket()
    assert [o.wire() for o in compose(t, classes=(), providers=providers()).objects()] == [o.wire() for o in compose(t, classes=(), providers=providers()).objects()]
    stored = t.model_copy(update={"metadata": t.metadata.model_copy(update={"uid": "u-1"})})
    for o in compose(stored, classes=(), providers=providers()).objects():
        (ref,) = o.metadata.owner_references
        assert ref.uid == "u-1" and ref.controller


def test_compose_class_name_resolves_devices() -> None:
    c = compose(ticket(hardware={"className": "h100-80gb"}), classes=fleet().classes, providers=providers())
    (req,) = c.deployment.spec.template.spec.engines[0].members[0].node_selector.devices  # type: ignore[union-attr]
    assert req.count == 8 and "NVIDIA H100" in req.selectors[0].cel


def test_compose_retired_scales_to_zero_and_canary_takes_its_share() -> None:
    c = compose(ticket(), classes=(), providers=providers(), retired=True, canary=Canary("pr-review-next", 20))
    assert c.deployment.spec.replicas == 0
    weights = {e.name: e.weight for e in c.service.spec.endpoints}
    assert weights["primary"] == 80 and weights["canary"] == 20
    canary = next(e for e in c.service.spec.endpoints if e.name == "canary")
    assert canary.selector.match_labels == {DEPLOYMENT_LABEL: "pr-review-next"}


def test_compose_names_blocking_rows() -> None:
    with pytest.raises(CompositionError) as e:
        compose(ticket(engine={"none": "x"}, hardware={"className": "nope"}), classes=(), providers=providers())
    assert {row for row, _ in e.value.problems} == {"engine", "hardware"}


# scaffold ---------------------------------------------------------------------------------


def test_new_ticket_has_every_row_and_loads() -> None:
    (tk,) = load_text(new_ticket("x", namespace="team"))
    assert tk.spec.missing_rows() == []  # type: ignore[attr-defined]


# revisions --------------------------------------------------------------------------------


def _md(image: str, annotations: dict[str, str] | None = None, limit: int = 2) -> ModelDeployment:
    return ModelDeployment.model_validate({
        "metadata": {"name": "m", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"revisionHistoryLimit": limit, "template": {"spec": {"engines": [{"name": "main", "members": [{
            "nodeSelector": {"devices": [{"name": "gpu"}]},
            "template": {"spec": {"containers": [{"name": "engine", "image": image}]}}}]}]}}},
    })


def _apply(md: ModelDeployment, image: str) -> ModelDeployment:
    nxt = _md(image, dict(md.metadata.annotations), md.spec.revision_history_limit)
    update = record(nxt, now_text="t")
    return nxt.model_copy(update={"metadata": nxt.metadata.model_copy(update={"annotations": {**nxt.metadata.annotations, **update.annotations()}})})


def test_revisions_record_changes_and_trim_to_the_limit() -> None:
    md = _apply(_md("a"), "a")
    assert [r.number for r in read_history(md)] == [1]
    assert not record(md, now_text="t").changed  # reconciling twice changes nothing
    for image in ("b", "c", "d"):
        md = _apply(md, image)
    history = read_history(md)
    assert [r.number for r in history] == [2, 3, 4]  # limit 2 plus the current
    assert "container.image: c -> d" in history[-1].change


def test_undo_restores_and_renumbers() -> None:
    md = _apply(_apply(_apply(_md("a", limit=5), "a"), "b"), "c")
    target = find_revision(read_history(md), 1)
    back = restored(md, target)
    md2 = _apply(back, "a")
    history = read_history(md2)
    assert [r.number for r in history] == [2, 3, 4]
    assert history[-1].change.startswith("rollback to revision 1")
    assert find_revision(history, None).number == 3
    with pytest.raises(LookupError, match="kept revisions: 2, 3, 4"):
        find_revision(history, 1)


def test_describe_change() -> None:
    assert describe_change(None, {"a": 1}) == "initial template"
    assert describe_change({"a": 1}, {"a": 2}) == "a: 1 -> 2"
    long_args = ["--port", "$(LANEWAY_PORT)", "--served-model-name", "a-long-served-model-name", "--max-model-len", "65536"]
    assert describe_change({"args": long_args}, {"args": [*long_args, "--max-num-seqs", "8"]}) == 'args[6:]: [] -> ["--max-num-seqs", "8"]'
    assert describe_change({"args": ["-n", "8", "-v"]}, {"args": ["-n", "16", "-v"]}) == 'args[1:-1]: ["8"] -> ["16"]'


# canary -----------------------------------------------------------------------------------

BUDGET = CanaryBudget(window=300, p95_latency=4.0, max_error_rate=0.05)


def test_canary_rolls_back_only_after_a_whole_window_of_breach() -> None:
    good = TrafficFigures(requests=100, errors=0, p95_latency=1.0)
    slow = TrafficFigures(requests=200, errors=0, p95_latency=6.0)
    d = judge_canary(BUDGET, good, None, deployment="c", generation=1, now=0)
    assert d.action == "keep"
    d = judge_canary(BUDGET, slow, d.watch, deployment="c", generation=1, now=10)
    assert d.action == "keep" and d.watch.breach_since == 10
    d = judge_canary(BUDGET, good, d.watch, deployment="c", generation=1, now=100)
    assert d.action == "keep" and d.watch.breach_since is None  # recovered: the window starts over
    d = judge_canary(BUDGET, slow, d.watch, deployment="c", generation=1, now=200)
    d = judge_canary(BUDGET, slow, d.watch, deployment="c", generation=1, now=499)
    assert d.action == "keep"
    d = judge_canary(BUDGET, slow, d.watch, deployment="c", generation=1, now=500)
    assert d.action == "rollback" and "p95 latency 6000ms" in d.message
    d = judge_canary(BUDGET, good, d.watch, deployment="c", generation=1, now=900)
    assert d.action == "rollback"  # sticky until the canary changes
    d = judge_canary(BUDGET, good, d.watch, deployment="c", generation=2, now=901)
    assert d.action == "keep"


def test_canary_error_rate_counts_only_requests_since_the_watch() -> None:
    d = judge_canary(BUDGET, TrafficFigures(requests=1000, errors=500), None, deployment="c", generation=1, now=0)
    d = judge_canary(BUDGET, TrafficFigures(requests=1100, errors=501), d.watch, deployment="c", generation=1, now=400)
    assert d.action == "keep"
    d = judge_canary(BUDGET, TrafficFigures(requests=1200, errors=530), d.watch, deployment="c", generation=1, now=500)
    d = judge_canary(BUDGET, TrafficFigures(requests=1300, errors=560), d.watch, deployment="c", generation=1, now=800)
    assert d.action == "rollback" and "error rate" in d.message


def test_canary_counts_from_zero_after_the_gateway_restarts() -> None:
    d = judge_canary(BUDGET, TrafficFigures(requests=5000, errors=10), None, deployment="c", generation=1, now=0)
    # the gateway restarted: its lifetime counters start again below the watch's base
    d = judge_canary(BUDGET, TrafficFigures(requests=100, errors=50), d.watch, deployment="c", generation=1, now=100)
    assert d.watch.base_requests == 0 and d.watch.breach_since == 100
    d = judge_canary(BUDGET, TrafficFigures(requests=200, errors=100), d.watch, deployment="c", generation=1, now=400)
    assert d.action == "rollback" and "error rate 50.0% over 200 requests" in d.message


def test_figures_from_gateway_status_prefer_entry_figures() -> None:
    traffic = [
        {"gateway": "g1", "requests": {"Primary": 10}, "errors": 1, "p95LatencySeconds": 0.5},
        {"gateway": "g2", "requests": {"Primary": 5}, "errors": 0, "p95LatencySeconds": 2.0,
         "entries": {"canary": {"requests": 3, "errors": 2, "p95LatencySeconds": 9.0}}},
    ]
    f = figures_from_status(traffic, entry="canary")
    assert f == TrafficFigures(requests=13, errors=3, p95_latency=9.0, p95_ttft=None)


def test_budget_of_reads_the_ticket() -> None:
    b = budget_of(ticket().spec)
    assert b == CanaryBudget(window=600, p95_latency=4.0, p95_ttft=0.8, max_error_rate=0.05)
    assert budget_of(ticket(lifecycle={"retireAfter": "2099-01-01"}).spec) is None


# retirement -------------------------------------------------------------------------------


def test_retirement_timeline() -> None:
    rule = RetirementRule.of("2030-06-30", warn_before="10d", grace_period="2d")
    at = parse_retire_after("2030-06-30")
    assert retirement_state(rule, at - 11 * DAY).phase == "Active"
    warning = retirement_state(rule, at - 3 * DAY - 1)
    assert warning.phase == "Warning" and warning.days_left == 3
    assert retirement_state(rule, at).phase == "Retired"
    assert retirement_state(rule, at + 2 * DAY).phase == "Expired"
    assert retirement_state(rule, at + 2 * DAY).next_change is None
    assert retirement_state(None, at).phase == "Active"


def test_audit_lists_deployments_without_owner_or_ticket() -> None:
    store = MemoryStore()
    stored = store.create(ticket())
    assert isinstance(stored, InferenceTicket)
    approved = stored.model_copy(update={"status": stored.status.model_copy(update=approval_record(
        stored, by="0123abcd", role="platform", at="2030-01-01T00:00:00Z"))})
    c = compose(approved, classes=(), providers=providers())
    lone = _md("x")
    owned_by_service = _md("y").model_copy(update={"metadata": _md("y").metadata.model_copy(update={"name": "svc-owned"})})
    svc = ModelService.model_validate({"metadata": {"name": "s", "namespace": "ns"}, "spec": {
        "owner": {"team": "t"}, "endpoints": [{"selector": {"matchLabels": {DEPLOYMENT_LABEL: "svc-owned"}}}]}})
    findings = audit([c.deployment, lone, owned_by_service], [svc], tickets=[approved], now=NOW)
    by_name = {f.name: f for f in findings}
    assert "pr-review" not in by_name
    assert len(by_name["m"].problems) == 2
    assert by_name["svc-owned"].owner == "t" and len(by_name["svc-owned"].problems) == 1
    unapproved = audit([c.deployment], [], tickets=[stored], now=NOW)
    assert [f.problems for f in unapproved] == [("ticket pr-review composed it but carries no approval record: "
                                                 "laneway ticket approve pr-review -n internal-tools",)]
    assert retires_text(c.deployment, now=parse_retire_after("2099-06-20")) == "in 10d"
