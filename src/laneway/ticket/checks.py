"""`check_ticket(ticket, fleet, now=)`: one verdict per row, pure, the same offline and online.

What each row must satisfy to pass (a missing row always fails; `none: <why>` passes where
deliberately empty makes sense and fails where a deployment cannot do without the row):

| row | passes when |
|---|---|
| model | a model name and a non-empty job |
| engine | an image |
| hardware | the requests match at least one published class (named), or `className` is published |
| fleetBoundary | it selects at least one InferenceCluster (`none` = any cluster) |
| sovereignty | it agrees with fleetBoundary and some cluster satisfies both (`none` allowed) |
| scaling | replicas or bounds, and a dry run of the real scheduler places them on today's free capacity |
| endpoint | a valid service name and an owner with a team and a contact |
| overflow | url and tier, with labels inside the sovereignty rule (`none` allowed) |
| cache | a valid ModelCache source (`none` allowed) |
| lifecycle | `retireAfter` in the future; an automatic rollback has a budget to judge (`none` allowed) |

The placement check composes the deployment exactly as approval would and hands it to
`laneway.placement.plan` with the fleet's replicas: its explanations are the scheduler's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

from pydantic import ValidationError

from laneway.api.kinds.cache import ModelCacheSpec
from laneway.api.kinds.ticket import TICKET_ROWS, InferenceTicket, Row
from laneway.api.manifest import problems_from
from laneway.api.meta import DNS1123_LABEL, DNS1123_LABEL_MAX
from laneway.api.selectors import LabelSelector
from laneway.placement import DEFAULT_MATCHER, DeviceMatcher, plan
from laneway.ticket.compose import CompositionError, compose, resolve_devices
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.hardware import match_classes
from laneway.ticket.retirement import BadRetirementDate, parse_retire_after
from laneway.ticket.selectors import cluster_selector, row_selector

Verdict = Literal["Pass", "Fail"]

PLACEHOLDER = "TODO"
"""`laneway ticket new` answers every row `none: TODO ...`; such a row is not answered yet."""

QUESTIONS: dict[str, str] = {
    "model": "Which model, doing what work for whom?",
    "engine": "Which serving engine or container runs it?",
    "hardware": "Which hardware class and how much device memory does it need?",
    "fleetBoundary": "Which clusters may it run on (cloud, neocloud, on-prem; regions)?",
    "sovereignty": "Where may its data and weights be (jurisdiction, compliance)?",
    "scaling": "How many replicas, what peak load, what latency budget?",
    "endpoint": "What is the endpoint called, which team owns it, who is paged?",
    "overflow": "Where does traffic go when it is saturated or down (or why nowhere)?",
    "cache": "Where are the weights fetched from?",
    "lifecycle": "How many revisions are kept, when does it roll back, when does it retire?",
}


@dataclass(frozen=True)
class RowCheck:
    """The verdict on one row: `reason` is a CamelCase word, `message` one readable line,
    `details` the supporting facts (matching classes, placement, scheduler reasons)."""

    key: str
    verdict: Verdict
    reason: str
    message: str
    details: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict == "Pass"

    @property
    def condition_type(self) -> str:
        """The ticket status condition for this row: `ModelRow`, `FleetBoundaryRow`, ..."""
        return self.key[0].upper() + self.key[1:] + "Row"


@dataclass(frozen=True)
class TicketReport:
    ticket: str
    rows: tuple[RowCheck, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def failing(self) -> list[str]:
        return [r.key for r in self.rows if not r.passed]

    def row(self, key: str) -> RowCheck:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)


def _pass(key: str, reason: str, message: str, *details: str) -> RowCheck:
    return RowCheck(key, "Pass", reason, message, tuple(details))


def _fail(key: str, reason: str, message: str, *details: str) -> RowCheck:
    return RowCheck(key, "Fail", reason, message, tuple(details))


def _cannot_be_none(key: str, row: Row, needs: str) -> RowCheck:
    return _fail(key, "NotOptional", f"answered none ({row.none!r}), but {needs}; fill the row")


def _check_model(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.model
    assert row is not None
    if row.is_none():
        return _cannot_be_none("model", row, "every deployment serves a named model")
    missing = [k for k, v in (("name", row.name), ("job", row.job)) if not (v and v.strip())]
    if missing:
        return _fail("model", "Incomplete", f"set {' and '.join(missing)} (job: what work, for whom, in one sentence)")
    return _pass("model", "Filled", f"{row.name}: {row.job}")


def _check_engine(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.engine
    assert row is not None
    if row.is_none():
        return _cannot_be_none("engine", row, "a deployment runs an engine container")
    if not row.image:
        return _fail("engine", "Incomplete", "set 'image', e.g. vllm/vllm-openai:v0.23.0")
    return _pass("engine", "Filled", f"image {row.image}")


def _check_hardware(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.hardware
    assert row is not None
    if row.is_none():
        return _cannot_be_none("hardware", row, "the scheduler needs to know what hardware it runs on")
    try:
        devices = resolve_devices(t, fleet.classes)
    except CompositionError as e:
        return _fail("hardware", "UnknownClass" if row.class_name else "Incomplete", e.problems[0][1])
    result = match_classes(devices, fleet.classes, matcher=matcher)
    if result.compile_problems:
        return _fail("hardware", "InvalidSelector", result.compile_problems[0], *result.compile_problems[1:])
    if not result.matching:
        published = ", ".join(name for name, _ in result.misses) or "none"
        return _fail(
            "hardware", "NoMatchingClass", f"matches no published class (published: {published})",
            *(f"{name}: {why}" for name, why in result.misses),
        )
    how = f"className {row.class_name}" if row.class_name else f"{len(devices)} device request(s)"
    return _pass("hardware", "MatchesClasses", f"{how} matches published class(es): {', '.join(result.matching)}")


def _selected_clusters(fleet: FleetSnapshot, selector: LabelSelector) -> list[str]:
    return sorted(c.name for c in fleet.clusters if selector.matches(c.metadata.labels))


def _check_fleet_boundary(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.fleet_boundary
    assert row is not None
    selector = row_selector(row)
    chosen = _selected_clusters(fleet, selector)
    if row.is_none():
        return _pass("fleetBoundary", "AnyCluster", f"no boundary ({row.none}); {len(chosen)} cluster(s) in the fleet")
    if not chosen:
        seen = sorted({f"{k}={v}" for c in fleet.clusters for k, v in c.metadata.labels.items()})
        return _fail(
            "fleetBoundary", "SelectsNoCluster",
            f"selects no InferenceCluster ({_describe(selector)} wanted)",
            *(["labels clusters carry: " + ", ".join(seen)] if seen else ["the fleet publishes no clusters"]),
        )
    return _pass("fleetBoundary", "SelectsClusters", f"selects {len(chosen)} cluster(s): {', '.join(chosen)}")


def _describe(selector: LabelSelector) -> str:
    return ", ".join(r.describe() for r in selector.requirements()) or "everything"


def _check_sovereignty(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.sovereignty
    assert row is not None
    if row.is_none():
        return _pass("sovereignty", "NoRule", f"no data boundary ({row.none})")
    merged = cluster_selector(t.spec)
    if merged.conflicts:
        return _fail("sovereignty", "ConflictsWithFleetBoundary", "; ".join(merged.conflicts) + "; no cluster can satisfy both")
    chosen = _selected_clusters(fleet, merged.selector)
    if not chosen:
        return _fail(
            "sovereignty", "NoClusterInside",
            f"no cluster satisfies both the fleet boundary and the sovereignty rule ({_describe(merged.selector)})",
        )
    return _pass("sovereignty", "Binds", f"{_describe(row_selector(row))} binds placement ({', '.join(chosen)}) and every endpoint")


def _check_scaling(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.scaling
    assert row is not None
    if row.is_none():
        return _cannot_be_none("scaling", row, "a deployment needs a replica count or autoscaling bounds")
    if row.replicas is None and row.max_replicas is None:
        return _fail("scaling", "Incomplete", "set 'replicas', or 'minReplicas' and 'maxReplicas'")
    budget = row.latency_budget
    if budget is None or not (budget.p95 or budget.p95_time_to_first_token):
        return _fail("scaling", "NoLatencyBudget", "set latencyBudget.p95 and/or latencyBudget.p95TimeToFirstToken")
    notes = [] if row.peak_concurrency else ["peakConcurrency is not set: autoscaling has no load target to aim for"]
    try:
        composition = compose(t, classes=fleet.classes)
    except CompositionError as e:
        blocked = ", ".join(sorted({row for row, _ in e.problems}))
        return _fail("scaling", "NotChecked", f"placement not checked: row(s) {blocked} must pass first")
    deployment = composition.deployment
    wanted = row.replicas if row.replicas is not None else max(row.min_replicas or 0, 1)
    deployment = deployment.model_copy(update={"spec": deployment.spec.model_copy(update={"replicas": wanted})})
    if not deployment.metadata.namespace:
        deployment = deployment.model_copy(update={"metadata": deployment.metadata.model_copy(update={"namespace": "default"})})
    placement = plan(deployment, clusters=fleet.clusters, classes=fleet.classes, replicas=fleet.replicas, matcher=matcher)
    spots = ", ".join(f"{r.cluster}/{r.engines[0].pool}" for r in placement.replicas) if placement.replicas else "none"
    if placement.short:
        return _fail(
            "scaling", "DoesNotFit",
            f"{len(placement.replicas)} of {wanted} replica(s) fit today's free capacity ({placement.condition.reason})",
            *(r.text() for r in placement.reasons),
        )
    return _pass("scaling", "Fits", f"{wanted} replica(s) fit today's free capacity: {spots}", *notes)


def _check_endpoint(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.endpoint
    assert row is not None
    if row.is_none():
        return _cannot_be_none("endpoint", row, "a service needs a name and an owner who is paged")
    problems = []
    if row.service and (len(row.service) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(row.service)):
        problems.append(f"service {row.service!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
    owner = row.owner
    if owner is None or not owner.team:
        problems.append("set owner.team (the team that owns the endpoint)")
    if owner is None or not owner.contact:
        problems.append("set owner.contact (who is paged, e.g. \"#tools-oncall\")")
    if problems:
        return _fail("endpoint", "NoOwnerContact" if owner is None or not owner.contact else "Incomplete", "; ".join(problems))
    assert owner is not None
    name = row.service or t.name
    models = f", models {', '.join(row.model_names)}" if row.model_names else ""
    return _pass("endpoint", "Owned", f"service {name}{models}; owner {owner.team} ({owner.contact})")


def _check_overflow(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.overflow
    assert row is not None
    if row.is_none():
        return _pass("overflow", "NoOverflow", f"no overflow provider ({row.none})")
    missing = [k for k, v in (("url", row.url), ("tier", row.tier)) if not v]
    if missing:
        return _fail("overflow", "Incomplete", f"set {' and '.join(missing)} (tier is Overflow or BreakGlass)")
    rule = row_selector(t.spec.sovereignty)
    if not rule.matches(row.labels):
        failing = [r.describe() for r in rule.requirements() if not r.matches(row.labels)]
        have = ", ".join(f"{k}={v}" for k, v in sorted(row.labels.items())) or "no labels"
        return _fail(
            "overflow", "OutsideSovereignty",
            f"the provider at {row.url} lies outside the sovereignty rule: {', '.join(failing)} wanted, it has {have}",
            "traffic never leaves the data boundary: choose a provider inside it, or answer overflow with none: <why>",
        )
    auth = "" if row.auth is not None else " (no auth.secretRef: the provider is called without a key)"
    return _pass("overflow", "InsideSovereignty", f"{row.tier} provider {row.url} lies inside the sovereignty rule{auth}")


def _check_cache(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.cache
    assert row is not None
    if row.is_none():
        return _pass("cache", "NoCache", f"no cache ({row.none}); the engine fetches its own weights")
    body = row.model_dump(by_alias=True, exclude_none=True, exclude={"none"})
    if "source" not in body:
        return _fail("cache", "Incomplete", "set source (HuggingFace, S3, HTTP or Local) and its block")
    try:
        spec = ModelCacheSpec.model_validate(body)
    except ValidationError as e:
        problems = problems_from(e, model=ModelCacheSpec)
        return _fail("cache", "InvalidSource", "; ".join(str(p) for p in problems))
    return _pass("cache", "Filled", f"weights from {spec.source}")


def _check_lifecycle(t: InferenceTicket, _f: FleetSnapshot, now: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.lifecycle
    assert row is not None
    if row.is_none():
        return _pass("lifecycle", "NoRule", f"no retirement rule ({row.none}); revisions kept by default")
    details = []
    if row.retire_after:
        try:
            when = parse_retire_after(row.retire_after)
        except BadRetirementDate as e:
            return _fail("lifecycle", "InvalidDate", str(e))
        if when <= now:
            return _fail("lifecycle", "RetirementPast", f"retireAfter {row.retire_after} is not in the future; set a later date")
        details.append(f"retires after {row.retire_after}")
    rollback = row.rollback
    if rollback is not None and rollback.on_budget_breach:
        budget = t.spec.scaling.latency_budget if t.spec.scaling and not t.spec.scaling.is_none() else None
        has_budget = budget is not None and bool(budget.p95 or budget.p95_time_to_first_token)
        if not has_budget and rollback.max_error_rate is None:
            return _fail(
                "lifecycle", "NoBudgetToJudge",
                "rollback.onBudgetBreach needs a latencyBudget in the scaling row or rollback.maxErrorRate",
            )
        details.append("automatic canary rollback on budget breach")
    if row.revision_history_limit is not None:
        details.append(f"keeps {row.revision_history_limit} revisions")
    return _pass("lifecycle", "Filled", "; ".join(details) or "defaults (10 revisions, no retirement)")


_CHECKS: dict[str, Callable[[InferenceTicket, FleetSnapshot, float, DeviceMatcher], RowCheck]] = {
    "model": _check_model,
    "engine": _check_engine,
    "hardware": _check_hardware,
    "fleetBoundary": _check_fleet_boundary,
    "sovereignty": _check_sovereignty,
    "scaling": _check_scaling,
    "endpoint": _check_endpoint,
    "overflow": _check_overflow,
    "cache": _check_cache,
    "lifecycle": _check_lifecycle,
}


OPTIONAL_ROWS = frozenset({"fleetBoundary", "sovereignty", "overflow", "cache", "lifecycle"})
"""Rows a deployment can do without, so `none: <why>` answers them; the others must be filled."""


def _how_to_answer(key: str) -> str:
    """The hint after an unanswered row's question: `none` only where the row may be empty."""
    return " (or write none: <why>)" if key in OPTIONAL_ROWS else " (this row cannot be none)"


def check_ticket(
    ticket: InferenceTicket, fleet: FleetSnapshot, *, now: float, matcher: DeviceMatcher = DEFAULT_MATCHER
) -> TicketReport:
    """Every row's verdict, in the ticket's row order (pure: reads only its arguments)."""
    rows: list[RowCheck] = []
    for key in TICKET_ROWS:
        row = ticket.spec.row(key)
        if row is None:
            rows.append(_fail(key, "Missing", f"not answered: {QUESTIONS[key]}{_how_to_answer(key)}"))
            continue
        if row.none is not None and row.none.strip().upper().startswith(PLACEHOLDER):
            rows.append(_fail(key, "Unanswered", f"still the placeholder: {QUESTIONS[key]}{_how_to_answer(key)}"))
            continue
        rows.append(_CHECKS[key](ticket, fleet, now, matcher))
    return TicketReport(ticket.name, tuple(rows))


def failing_rows(rows: Sequence[RowCheck]) -> list[str]:
    return [r.key for r in rows if not r.passed]
