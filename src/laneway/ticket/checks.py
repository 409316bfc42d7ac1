"""`check_ticket(ticket, fleet, now=)`: one verdict per row, pure, the same offline and online.

What each row must satisfy to pass (a missing row always fails; `none: <why>` passes where
deliberately empty makes sense and fails where a deployment cannot do without the row):

| row | passes when |
|---|---|
| model | a model name and a non-empty job |
| engine | an image |
| hardware | the requests match at least one published class (named), or `className` is published; with `memory`, every matching class's devices hold the model |
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from laneway.api.kinds import InferenceGateway
from laneway.api.kinds.cache import ModelCacheSpec
from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import ExternalProvider
from laneway.api.kinds.ticket import TICKET_ROWS, InferenceTicket, Row
from laneway.api.manifest import problems_from
from laneway.api.meta import DNS1123_LABEL, DNS1123_LABEL_MAX
from laneway.api.selectors import LabelSelector
from laneway.economics.estimate import monthly_estimate
from laneway.egress.destinations import credential_refusal, written_by_platform
from laneway.placement import DEFAULT_MATCHER, DeviceMatcher, plan
from laneway.placement.model import ReplicaPlacement
from laneway.ticket.compose import CompositionError, compose, resolve_devices
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.hardware import ClassMatch, match_classes
from laneway.ticket.load import Measurement, load_against_capacity, measured_concurrency
from laneway.ticket.location import JURISDICTION_LABEL, cold_pull_cost, weights_location
from laneway.ticket.memory import MemoryCheck, MemoryInputError, check_memory, memory_need, replica_memory
from laneway.ticket.placeholders import is_placeholder, reserved_host
from laneway.ticket.policy import TicketPolicy
from laneway.ticket.retirement import BadRetirementDate, parse_retire_after
from laneway.ticket.selectors import cluster_selector, row_selector

Verdict = Literal["Pass", "Fail"]

PLACEHOLDER = "TODO"
"""`laneway ticket new` answers every row `none: TODO ...`; such a row is not answered yet (as is
any placeholder, see `laneway.ticket.placeholders`)."""


def _placeholder_note(text: str | None) -> str:
    return "" if text is None else f" ({text!r} is a placeholder)"


def caller_urls(gateways: Sequence[InferenceGateway], *, namespace: str, service: str, models: Sequence[str]) -> str:
    """Where callers reach the service: its own path (always works) and the OpenAI base URL
    with the model names, on the first gateway's (by name) published address."""
    for g in sorted(gateways, key=lambda g: g.name):
        address = g.spec.address or g.status.address
        if address:
            base = (address if "://" in address else f"http://{address}").rstrip("/")
            return f"callers use {base}/{namespace}/{service}/v1, or {base}/v1 with model {' or '.join(models)}"
    return (f"callers use <gateway>/{namespace}/{service}/v1, or <gateway>/v1 with model {' or '.join(models)} "
            "(no InferenceGateway publishes an address yet)")


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
    missing = [k for k, v in (("name", row.name), ("job", row.job)) if is_placeholder(v)]
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
    memory = _memory_of(t, fleet, result)
    if memory is not None and not memory.fits:
        return _fail("hardware", "ModelDoesNotFit", memory.message, *memory.details)
    more = (memory.message, *memory.details) if memory is not None else ()
    return _pass("hardware", "MatchesClasses", f"{how} matches published class(es): {', '.join(result.matching)}", *more)


def _memory_of(t: InferenceTicket, fleet: FleetSnapshot, result: ClassMatch) -> MemoryCheck | None:
    """The model's memory need against each matching class (see `ticket.memory`); None without `memory`."""
    answer = t.spec.hardware.memory if t.spec.hardware is not None else None
    if answer is None:
        return None
    try:
        need = memory_need(t, answer)
    except MemoryInputError as e:
        return MemoryCheck(False, str(e))
    classes = {c.name: c for c in fleet.classes}
    return check_memory(need, {name: replica_memory(classes[name], demand) for name, demand in result.demands})


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
    if not row.peak_concurrency:
        return _fail(
            "scaling", "NoPeakLoad",
            "a latency budget means nothing without the load it holds at: set peakConcurrency (requests in flight at the peak)",
        )
    load = load_against_capacity(t, _measured(t, fleet))
    if load.needed > load.planned:
        return _fail(
            "scaling", "PeakExceedsCapacity",
            f"peak {row.peak_concurrency} concurrent needs {load.needed} replica(s) at {load.per_replica} per replica "
            f"({load.source}); the row allows at most {load.planned}: set {load.field} to {load.needed} or more, or lower peakConcurrency",
        )
    notes = [f"peak {row.peak_concurrency} concurrent needs {load.needed} replica(s) at {load.per_replica} per replica ({load.source})"]
    try:
        composition = compose(t, classes=fleet.classes, providers=TicketPolicy.of(fleet.gateways).providers)
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
        # what blocks the clusters the ticket selects comes first; clusters it never wanted, last
        reasons = sorted(placement.reasons, key=lambda r: r.message.startswith("not selected"))
        blocking = [r.text(shown=max(1, len(r.clusters))) for r in reasons]
        first = f": {blocking[0]}" if blocking else f" ({placement.condition.reason})"
        return _fail(
            "scaling", "DoesNotFit",
            f"{len(placement.replicas)} of {wanted} replica(s) fit today's free capacity{first}",
            *blocking[1:],
        )
    notes.append(_cost_note(t, fleet, deployment, placement.replicas))
    return _pass("scaling", "Fits", f"{wanted} replica(s) fit today's free capacity: {spots}", *notes)


def _measured(t: InferenceTicket, fleet: FleetSnapshot) -> Measurement | None:
    """What the fleet measured of this ticket's engines (online only: None offline, or when the
    rows do not compose, so there is no template to compare with)."""
    if fleet.services is None or fleet.deployments is None:
        return None
    try:
        composed = compose(t, classes=fleet.classes, providers=TicketPolicy.of(fleet.gateways).providers)
    except CompositionError:
        return None
    return measured_concurrency(t, services=fleet.services, deployments=fleet.deployments,
                                composed=composed.deployment, service=composed.service.name)


def _cost_note(t: InferenceTicket, fleet: FleetSnapshot, deployment: ModelDeployment, placed: Sequence[ReplicaPlacement]) -> str:
    """The placed replicas' monthly cost, against the overflow provider's price (informational)."""
    estimate = monthly_estimate(
        deployment, placed, {c.metadata.name: c for c in fleet.clusters}, {c.metadata.name: c for c in fleet.classes}
    )
    row = t.spec.overflow
    name = row.provider if row is not None and not row.is_none() else None
    provider = TicketPolicy.of(fleet.gateways).provider(name) if name else None
    price = provider.price_per_million_tokens if provider is not None else None
    return estimate.text(provider=provider.name if provider is not None else None, price_per_million=price)


def _check_endpoint(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.endpoint
    assert row is not None
    if row.is_none():
        return _cannot_be_none("endpoint", row, "a service needs a name and an owner who is paged")
    problems = []
    if row.service and (len(row.service) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(row.service)):
        problems.append(f"service {row.service!r} is not a DNS-1123 label (lowercase letters, digits, '-')")
    owner = row.owner
    team = owner.team if owner is not None else None
    contact = owner.contact if owner is not None else None
    if is_placeholder(team):
        problems.append("set owner.team to the team that owns the endpoint" + _placeholder_note(team))
    if is_placeholder(contact):
        problems.append("set owner.contact to who is paged, e.g. \"#tools-oncall\"" + _placeholder_note(contact))
    elif contact is not None:
        shape = TicketPolicy.of(fleet.gateways).contact_refusal(contact)
        if shape:
            problems.append(shape)
    if problems:
        return _fail("endpoint", "NoOwnerContact" if is_placeholder(contact) else "Incomplete", "; ".join(problems))
    name = row.service or t.name
    models = row.model_names or [name]
    return _pass(
        "endpoint", "Owned", f"service {name}; owner {team} ({contact})",
        caller_urls(fleet.gateways, namespace=t.namespace or "default", service=name, models=models),
    )


def _check_overflow(t: InferenceTicket, fleet: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.overflow
    assert row is not None
    if row.is_none():
        return _pass("overflow", "NoOverflow", f"no overflow provider ({row.none})")
    if not row.tier:
        return _fail("overflow", "Incomplete", "set tier (Overflow or BreakGlass)")
    if row.provider:
        return _check_provider(t, fleet, row.provider)
    if not row.url:
        return _fail("overflow", "Incomplete", "name a provider the platform vouches for (provider: <name>), see laneway get gw -o yaml")
    if reserved_host(row.url) or is_placeholder(row.url):
        return _fail("overflow", "Placeholder", f"url {row.url} is a placeholder; name a real provider or answer overflow with none: <why>")
    rule = row_selector(t.spec.sovereignty)
    if rule.requirements():
        return _fail(
            "overflow", "UnvouchedProvider",
            f"the provider at {row.url} carries labels this ticket wrote; under a sovereignty rule the boundary is judged "
            "on the platform's labels: name a provider the platform vouches for (provider: <name>)",
            *_provider_names(fleet),
        )
    auth = "" if row.auth is not None else " (no auth.secretRef: the provider is called without a key)"
    return _pass("overflow", "NoRule", f"{row.tier} provider {row.url}; no sovereignty rule to keep it inside{auth}")


def _provider_names(fleet: FleetSnapshot) -> list[str]:
    providers = TicketPolicy.of(fleet.gateways).providers
    if not providers:
        return ["the platform vouches for no provider yet (InferenceGateway spec.tickets.providers)"]
    return ["providers the platform vouches for: " + ", ".join(f"{p.name} ({_labels_text(p.labels)})" for p in providers)]


def _labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"


def _check_provider(t: InferenceTicket, fleet: FleetSnapshot, name: str) -> RowCheck:
    row = t.spec.overflow
    assert row is not None
    provider = TicketPolicy.of(fleet.gateways).provider(name)
    if provider is None:
        return _fail("overflow", "UnknownProvider", f"provider {name!r} is not one the platform vouches for", *_provider_names(fleet))
    model = row.model
    if not model:
        allowed = ", ".join(provider.models) or "none listed"
        return _fail("overflow", "Incomplete", f"set model: which of {provider.name}'s models takes the overflow ({allowed})")
    if model not in provider.models:
        allowed = ", ".join(provider.models) or "none"
        return _fail("overflow", "ModelNotAllowed", f"provider {provider.name} is not vouched for model {model!r} (allowed: {allowed})")
    for key in ("sovereignty", "fleetBoundary"):
        selector = row_selector(t.spec.row(key))  # type: ignore[arg-type]
        failing = [r.describe() for r in selector.requirements() if not r.matches(provider.labels)]
        if failing:
            return _fail(
                "overflow", "OutsideSovereignty" if key == "sovereignty" else "OutsideFleetBoundary",
                f"provider {provider.name} ({provider.url}) lies outside the {key} row: {', '.join(failing)} wanted, "
                f"the platform labels it {_labels_text(provider.labels)}",
                "traffic never leaves the data boundary: choose a provider inside it, or answer overflow with none: <why>",
            )
    key_problem = _provider_key_problem(t, fleet, provider)
    if key_problem:
        return _fail("overflow", "ProviderKeyUnusable", key_problem)
    price = f", {provider.price_per_million_tokens} per million tokens" if provider.price_per_million_tokens is not None else ""
    return _pass(
        "overflow", "InsideSovereignty",
        f"{row.tier} provider {provider.name} ({provider.url}, model {model}{price}) lies inside the boundary",
    )


def _provider_key_problem(t: InferenceTicket, fleet: FleetSnapshot, provider: ExternalProvider) -> str | None:
    ref = provider.secret_ref
    if ref is None or fleet.secrets is None:
        return None
    secret = fleet.secret(t.namespace or "default", ref.name)
    if secret is None or secret.value(ref.key) is None:
        return (f"provider {provider.name}'s key (Secret {ref.name!r}, key {ref.key!r}) is not in namespace "
                f"{t.namespace or 'default'!r}; the platform provisions it there")
    if not written_by_platform(secret):
        return f"Secret {ref.name!r} in namespace {t.namespace or 'default'!r} was written by the team, not the platform; the platform provisions the provider's key"
    return credential_refusal(secret, provider.url, use=f"provider {provider.name}")


def _check_cache(t: InferenceTicket, _f: FleetSnapshot, _n: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.cache
    assert row is not None
    if row.is_none():
        return _pass("cache", "NoCache", f"no cache ({row.none}); the engine fetches its own weights")
    body = row.model_dump(by_alias=True, exclude_none=True, exclude={"none", "egress_price_per_gib"})
    if "source" not in body:
        return _fail("cache", "Incomplete", "set source (HuggingFace, S3, HTTP or Local) and its block")
    try:
        spec = ModelCacheSpec.model_validate(body)
    except ValidationError as e:
        problems = problems_from(e, model=ModelCacheSpec)
        return _fail("cache", "InvalidSource", "; ".join(str(p) for p in problems))
    where = weights_location(spec)
    rule = row_selector(t.spec.sovereignty)
    wanted = [r for r in rule.requirements() if r.key == JURISDICTION_LABEL]
    if where.jurisdiction is not None and wanted and not all(r.matches({JURISDICTION_LABEL: where.jurisdiction}) for r in wanted):
        return _fail(
            "cache", "OutsideSovereignty",
            f"weights come from {where.text}, in jurisdiction {where.jurisdiction}; the sovereignty row wants "
            f"{', '.join(r.describe() for r in wanted)}: copy them to a store inside it",
        )
    details = [f"weights come from {where.text}"]
    if where.jurisdiction is None and wanted and spec.source != "Local":
        details.append("no jurisdiction is known for this source: fine for public weights, not for private ones")
    cost = cold_pull_cost(spec, row.egress_price_per_gib)
    if cost:
        details.append(cost)
    return _pass("cache", "Filled", f"weights from {spec.source}", *details)


def _check_lifecycle(t: InferenceTicket, fleet: FleetSnapshot, now: float, matcher: DeviceMatcher) -> RowCheck:
    row = t.spec.lifecycle
    assert row is not None
    policy = TicketPolicy.of(fleet.gateways)
    if policy.max_horizon is not None and (row.is_none() or not row.retire_after):
        return _fail(
            "lifecycle", "NoRetirementDate",
            f"the platform requires a retirement date at most {policy.max_horizon_text} ahead: set retireAfter",
        )
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
        if policy.max_horizon is not None and when > now + policy.max_horizon:
            return _fail(
                "lifecycle", "BeyondHorizon",
                f"retireAfter {row.retire_after} lies beyond the platform's horizon of {policy.max_horizon_text}; "
                "set an earlier date (extend it later, with a new approval)",
            )
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
        if row.none is not None and is_placeholder(row.none):
            rows.append(_fail(key, "Unanswered", f"still the placeholder: {QUESTIONS[key]}{_how_to_answer(key)}"))
            continue
        rows.append(_CHECKS[key](ticket, fleet, now, matcher))
    return TicketReport(ticket.name, tuple(rows))


def failing_rows(rows: Sequence[RowCheck]) -> list[str]:
    return [r.key for r in rows if not r.passed]
