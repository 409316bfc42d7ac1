"""What an approved ticket stands for: its ModelDeployment, ModelService, external
ModelEndpoint and ModelCache. Pure: the same ticket (and classes) always composes the same
objects, so the ticket controller can compare and apply the difference, and
`laneway ticket render` prints exactly what would be created.

How the rows land (the design's table):
- model: deployment annotations (`laneway.dev/model`, `laneway.dev/job`);
- engine: the one `engine` container of the deployment's one engine;
- hardware: that member's `nodeSelector.devices` (a `className` resolved to its devices);
- fleetBoundary + sovereignty: the deployment's `clusterSelector` (both rows), and the
  sovereignty rule alone as the service's `dataBoundary` (every endpoint, overflow included);
- scaling: `replicas` or `autoscaling`, and the service's `slo`;
- endpoint: the service's name, `modelNames` and `owner` (also deployment annotations);
- overflow: an external ModelEndpoint `<ticket>-overflow` in an Overflow or BreakGlass entry,
  written by `ticket` with the provider's labels as the ones the data boundary reads when the
  platform vouches for the provider, else written by `team` (its labels are the team's claim);
- cache: a ModelCache `<ticket>` the deployment references;
- lifecycle: `revisionHistoryLimit` and `retireAfter` on the deployment.

Every composed object carries the `laneway.dev/ticket` label and, once the ticket is stored,
a controller ownerReference to it, so deleting the ticket removes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import DeviceRequest, ModelDeployment
from laneway.api.kinds.platform import ExternalProvider, InferenceClass
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.kinds.ticket import InferenceTicket, TicketCanary
from laneway.api.labels import (
    BOUNDARY_LABELS_ANNOTATION,
    CANARY_LABEL,
    DEPLOYMENT_LABEL,
    JOB_ANNOTATION,
    MODEL_ANNOTATION,
    OWNER_CONTACT_ANNOTATION,
    OWNER_TEAM_ANNOTATION,
    RETIREMENT_GRACE_ANNOTATION,
    RETIREMENT_WARNING_ANNOTATION,
    ROLE_LABEL,
    TICKET_LABEL,
    WRITTEN_BY_ANNOTATION,
)
from laneway.api.manifest import problems_from
from laneway.api.meta import Resource
from laneway.egress.destinations import TEAM_LANE
from laneway.gateway.provenance import TICKET_WRITER, boundary_keys
from laneway.ticket.hardware import class_requests
from laneway.ticket.selectors import cluster_selector, row_selector

ENGINE_NAME = "main"
PRIMARY_ENTRY = "primary"
CANARY_ENTRY = "canary"
OVERFLOW_ENTRY = "overflow"
CANARY_SHARE_TOTAL = 100


class CompositionError(ValueError):
    """The ticket cannot be composed as written; `problems` names each row and what to fill."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{row}: {message}" for row, message in self.problems))


@dataclass(frozen=True)
class Canary:
    """A second deployment taking `weight` percent of the service's Primary traffic."""

    deployment: str
    weight: int


@dataclass(frozen=True)
class Composition:
    deployment: ModelDeployment
    service: ModelService
    endpoints: tuple[ModelEndpoint, ...] = ()
    cache: ModelCache | None = None
    extra: tuple[Resource, ...] = field(default=())

    def objects(self) -> list[Resource]:
        """In apply order: cache, endpoints, deployment, extra (a declared canary), service."""
        out: list[Resource] = []
        if self.cache is not None:
            out.append(self.cache)
        out.extend(self.endpoints)
        out.append(self.deployment)
        out.extend(self.extra)
        out.append(self.service)
        return out


def service_name(ticket: InferenceTicket) -> str:
    row = ticket.spec.endpoint
    return row.service if row is not None and not row.is_none() and row.service else ticket.name


def canary_name(ticket: InferenceTicket) -> str:
    """The deployment a canary declared in the lifecycle row composes into."""
    return f"{ticket.name}-canary"[:63].rstrip("-")


def declared_canary(ticket: InferenceTicket) -> TicketCanary | None:
    life = ticket.spec.lifecycle
    return life.canary if life is not None and not life.is_none() else None


def canary_deployment(ticket: InferenceTicket, primary: ModelDeployment, declared: TicketCanary) -> ModelDeployment:
    """The primary deployment with the canary's image or arguments, its own name and a fixed
    replica count, labelled as the ticket's canary (pure)."""
    spec = primary.spec
    template = spec.template.model_copy(deep=True)
    for engine in template.spec.engines:
        for member in engine.members:
            for container in member.template.spec.containers:
                if declared.image:
                    container.image = declared.image
                if declared.args is not None:
                    container.args = list(declared.args)
    meta = primary.metadata.model_copy(update={
        "name": canary_name(ticket),
        "labels": {**primary.metadata.labels, CANARY_LABEL: ticket.name},
    })
    new_spec = spec.model_copy(update={"template": template, "replicas": declared.replicas, "autoscaling": None})
    return primary.model_copy(update={"metadata": meta, "spec": new_spec})


def overflow_endpoint_name(ticket: InferenceTicket) -> str:
    return f"{ticket.name}-overflow"[:63].rstrip("-")


def _metadata(ticket: InferenceTicket, name: str, *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {**(labels or {}), TICKET_LABEL: ticket.name},
        "annotations": dict(annotations or {}),
    }
    if ticket.metadata.namespace:
        meta["namespace"] = ticket.metadata.namespace
    if ticket.metadata.uid:
        meta["ownerReferences"] = [ticket.owner_reference().model_dump(by_alias=True, exclude_none=True)]
    return meta


def resolve_devices(ticket: InferenceTicket, classes: Sequence[InferenceClass]) -> list[DeviceRequest]:
    """The hardware row's device requests; a className resolves to the class's devices.
    Raises CompositionError naming the row when neither form is usable."""
    row = ticket.spec.hardware
    if row is None or row.is_none():
        raise CompositionError([("hardware", "a deployment needs hardware: give device requests or a className")])
    if row.devices:
        return list(row.devices)
    if row.class_name:
        for cls in classes:
            if cls.name == row.class_name:
                return class_requests(cls)
        published = ", ".join(sorted(c.name for c in classes)) or "none"
        raise CompositionError([("hardware", f"className {row.class_name!r} is not a published InferenceClass (published: {published})")])
    raise CompositionError([("hardware", "give 'devices' (requests in CEL) or 'className' (a published InferenceClass)")])


def _required_rows(ticket: InferenceTicket) -> list[tuple[str, str]]:
    spec = ticket.spec
    problems: list[tuple[str, str]] = []
    for key, why in (
        ("model", "a deployment serves a model: give its name and job"),
        ("engine", "a deployment needs an engine image"),
        ("scaling", "a deployment needs replicas or autoscaling bounds"),
        ("endpoint", "a service needs a name and an owner"),
    ):
        row = spec.row(key)
        if row is None or row.is_none():
            problems.append((key, why))
    if spec.engine is not None and not spec.engine.is_none() and not spec.engine.image:
        problems.append(("engine", "set 'image', e.g. vllm/vllm-openai:v0.23.0"))
    return problems


def compose(
    ticket: InferenceTicket,
    *,
    classes: Sequence[InferenceClass],
    providers: Sequence[ExternalProvider] = (),
    retired: bool = False,
    canary: Canary | None = None,
) -> Composition:
    """The objects the ticket composes. `providers` are those the platform vouches for (an
    overflow row naming one composes its URL, labels and key); `retired` scales the deployment
    to zero (the retirement date has passed); `canary` adds a weighted Primary entry for a
    canary deployment. Raises CompositionError naming every row that blocks composition."""
    problems = _required_rows(ticket)
    devices: list[DeviceRequest] = []
    try:
        devices = resolve_devices(ticket, classes)
    except CompositionError as e:
        problems.extend(e.problems)
    merged = cluster_selector(ticket.spec)
    problems.extend(("sovereignty", c) for c in merged.conflicts)
    if problems:
        raise CompositionError(problems)

    spec = ticket.spec
    assert spec.model and spec.engine and spec.scaling and spec.endpoint  # checked above
    selector = merged.selector.model_dump(by_alias=True, exclude_none=True)
    with _row("cache"):
        cache = _cache(ticket, selector)
    with _row("engine"):
        deployment = _deployment(ticket, devices, selector, cache, retired)
    with _row("overflow"):
        endpoints = _overflow_endpoints(ticket, providers)
    extra: tuple[Resource, ...] = ()
    declared = declared_canary(ticket)
    if declared is not None and canary is not None and canary.deployment == canary_name(ticket):
        with _row("lifecycle"):
            extra = (canary_deployment(ticket, deployment, declared),)
    with _row("endpoint"):
        service = _service(ticket, deployment, endpoints, canary)
    return Composition(deployment=deployment, service=service, endpoints=tuple(endpoints), cache=cache, extra=extra)


@contextmanager
def _row(key: str) -> Iterator[None]:
    """A composed object that does not validate is the fault of one row: say which."""
    try:
        yield
    except ValidationError as e:
        kind = e.title
        raise CompositionError([(key, f"{kind} " + "; ".join(str(p) for p in problems_from(e)))]) from None


def _owner_annotations(ticket: InferenceTicket) -> dict[str, str]:
    spec = ticket.spec
    out: dict[str, str] = {}
    if spec.model and not spec.model.is_none():
        if spec.model.name:
            out[MODEL_ANNOTATION] = spec.model.name
        if spec.model.job:
            out[JOB_ANNOTATION] = spec.model.job
    owner = spec.endpoint.owner if spec.endpoint and not spec.endpoint.is_none() else None
    if owner is not None:
        if owner.team:
            out[OWNER_TEAM_ANNOTATION] = owner.team
        if owner.contact:
            out[OWNER_CONTACT_ANNOTATION] = owner.contact
    return out


def _deployment(
    ticket: InferenceTicket, devices: list[DeviceRequest], selector: dict[str, Any], cache: ModelCache | None, retired: bool
) -> ModelDeployment:
    spec = ticket.spec
    engine = spec.engine
    scaling = spec.scaling
    assert engine is not None and scaling is not None
    container: dict[str, Any] = {"name": "engine", "image": engine.image}
    if engine.command:
        container["command"] = list(engine.command)
    if engine.args:
        container["args"] = list(engine.args)
    if engine.env:
        container["env"] = [e.model_dump(by_alias=True, exclude_none=True) for e in engine.env]
    if engine.port is not None:
        container["port"] = engine.port
    template_spec: dict[str, Any] = {
        "clusterSelector": selector,
        "engines": [
            {
                "name": ENGINE_NAME,
                "members": [
                    {
                        "role": "Standalone",
                        "nodeSelector": {"devices": [d.model_dump(by_alias=True, exclude_none=True) for d in devices]},
                        "template": {"spec": {"containers": [container]}},
                    }
                ],
            }
        ],
    }
    if cache is not None:
        template_spec["modelCacheRef"] = {"name": cache.name}
    body: dict[str, Any] = {"template": {"spec": template_spec}}
    if scaling.replicas is not None:
        body["replicas"] = 0 if retired else scaling.replicas
    else:
        low = scaling.min_replicas or 0
        high = scaling.max_replicas if scaling.max_replicas is not None else max(low, 1)
        body["replicas"] = 0 if retired else low
        body["autoscaling"] = {"minReplicas": 0 if retired else low, "maxReplicas": 0 if retired else high}
        if scaling.peak_concurrency and high:
            # spread the declared peak over the ceiling: the in-flight load one replica should carry
            body["autoscaling"]["targetInFlight"] = max(1.0, round(scaling.peak_concurrency / high, 2))
    life = spec.lifecycle
    if life is not None and not life.is_none():
        if life.revision_history_limit is not None:
            body["revisionHistoryLimit"] = life.revision_history_limit
        if life.retire_after:
            body["retireAfter"] = life.retire_after
    annotations = _owner_annotations(ticket)
    if life is not None and not life.is_none() and life.retire_after:
        # the rollout controller reads these to put the ticket's warning period on the deployment and its services
        if life.warn_before:
            annotations[RETIREMENT_WARNING_ANNOTATION] = life.warn_before
        if life.grace_period:
            annotations[RETIREMENT_GRACE_ANNOTATION] = life.grace_period
    return ModelDeployment.model_validate({"metadata": _metadata(ticket, ticket.name, annotations=annotations), "spec": body})


def _cache(ticket: InferenceTicket, selector: dict[str, Any]) -> ModelCache | None:
    row = ticket.spec.cache
    if row is None or row.is_none():
        return None
    body = row.model_dump(by_alias=True, exclude_none=True, exclude={"none", "egress_price_per_gib"})
    body["clusterSelector"] = selector
    return ModelCache.model_validate({"metadata": _metadata(ticket, ticket.name), "spec": body})


def _overflow_endpoints(ticket: InferenceTicket, providers: Sequence[ExternalProvider]) -> list[ModelEndpoint]:
    row = ticket.spec.overflow
    if row is None or row.is_none():
        return []
    if row.provider:
        provider = next((p for p in providers if p.name == row.provider), None)
        if provider is None:
            raise CompositionError([("overflow", f"provider {row.provider!r} is not one the platform vouches for")])
        url, labels, secret_ref = provider.url, dict(provider.labels), provider.secret_ref
        # the provider's labels are the platform's word: the data boundary reads them
        annotations = {WRITTEN_BY_ANNOTATION: TICKET_WRITER, BOUNDARY_LABELS_ANNOTATION: boundary_keys(labels)}
    elif row.url:
        url, labels, secret_ref = row.url, dict(row.labels), row.auth.secret_ref if row.auth is not None else None
        annotations = {WRITTEN_BY_ANNOTATION: TEAM_LANE}  # the row's own labels are the team's claim
    else:
        return []
    body: dict[str, Any] = {"url": url}
    if row.model:
        body["model"] = row.model
    if secret_ref is not None:
        body["auth"] = {"secretRef": secret_ref.model_dump(by_alias=True)}
    labels = {**labels, ROLE_LABEL: OVERFLOW_ENTRY}
    meta = _metadata(ticket, overflow_endpoint_name(ticket), labels=labels, annotations=annotations)
    return [ModelEndpoint.model_validate({"metadata": meta, "spec": body})]


def _service(ticket: InferenceTicket, deployment: ModelDeployment, endpoints: list[ModelEndpoint], canary: Canary | None) -> ModelService:
    spec = ticket.spec
    endpoint = spec.endpoint
    assert endpoint is not None
    primary_weight = CANARY_SHARE_TOTAL - canary.weight if canary is not None else 1
    entries: list[dict[str, Any]] = [
        {"name": PRIMARY_ENTRY, "weight": primary_weight, "selector": {"matchLabels": {DEPLOYMENT_LABEL: deployment.name}}}
    ]
    if canary is not None:
        entries.append({"name": CANARY_ENTRY, "weight": canary.weight, "selector": {"matchLabels": {DEPLOYMENT_LABEL: canary.deployment}}})
    overflow = spec.overflow
    if endpoints and overflow is not None:
        entries.append(
            {
                "name": OVERFLOW_ENTRY,
                "tier": overflow.tier or "Overflow",
                "selector": {"matchLabels": {TICKET_LABEL: ticket.name, ROLE_LABEL: OVERFLOW_ENTRY}},
            }
        )
    body: dict[str, Any] = {"endpoints": entries}
    if endpoint.model_names:
        body["modelNames"] = list(endpoint.model_names)
    if endpoint.owner is not None and endpoint.owner.team:
        body["owner"] = endpoint.owner.model_dump(by_alias=True, exclude_none=True)
    boundary = row_selector(spec.sovereignty)
    if not boundary.is_empty():
        body["dataBoundary"] = boundary.model_dump(by_alias=True, exclude_none=True)
    budget = spec.scaling.latency_budget if spec.scaling is not None else None
    if budget is not None and (budget.p95 or budget.p95_time_to_first_token):
        slo: dict[str, str] = {}
        if budget.p95:
            slo["p95Latency"] = budget.p95
        if budget.p95_time_to_first_token:
            slo["p95TimeToFirstToken"] = budget.p95_time_to_first_token
        body["slo"] = slo
    return ModelService.model_validate({"metadata": _metadata(ticket, service_name(ticket)), "spec": body})
