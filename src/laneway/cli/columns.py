"""Per-kind table columns for `laneway get`: what a person wants to read at a glance.

Each kind names the few columns that answer "is it working, and where": READY and REPLICAS
for deployments, CLUSTER and POOL for replicas, URL for endpoints. `-o wide` adds the columns
that help when digging (images, selectors, labels). NAMESPACE (under `-A`), NAME and AGE are
added around these by the table builder for every kind. Values are pure functions of one
object; a missing value prints as `-`, never as `None`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from laneway.api.conditions import find_condition
from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.kinds.ticket import InferenceTicket
from laneway.api.meta import Condition, Resource, status_of
from laneway.api.selectors import LabelSelector
from laneway.ticket.audit import owner_text, retires_text, ticket_of

NONE = "-"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], str]
    wide_only: bool = False


def _conditions(obj: Resource) -> list[Condition]:
    status = status_of(obj)
    return list(status.conditions) if status is not None else []


def condition_status(obj: Resource, type_: str = "Ready") -> str:
    """The status of one condition (`True`, `False`, `Unknown`), `-` before any controller wrote it."""
    c = find_condition(_conditions(obj), type_)
    return c.status if c else NONE


def status_summary(obj: Resource) -> str:
    """One word on how the object is doing: `Deleting`, the reason of its first False
    condition (what is wrong), `Ready` when every condition is True, else `-`."""
    if obj.metadata.deletion_timestamp:
        return "Deleting"
    conditions = _conditions(obj)
    for c in conditions:
        if c.status == "False":
            return c.reason or f"Not{c.type}"
    if conditions and all(c.status == "True" for c in conditions):
        return "Ready"
    for c in conditions:
        if c.status == "Unknown":
            return c.reason or "Unknown"
    return NONE


def _join(values: list[str], limit: int = 4) -> str:
    values = [v for v in values if v]
    if not values:
        return NONE
    if len(values) > limit:
        return ",".join(values[:limit]) + f",+{len(values) - limit}"
    return ",".join(values)


def selector_text(selector: LabelSelector | None) -> str:
    if selector is None or selector.is_empty():
        return NONE
    return ",".join(r.describe() for r in selector.requirements())


def _labels(obj: Resource) -> str:
    return _join([f"{k}={v}" for k, v in sorted(obj.metadata.labels.items())], limit=6)


# ModelDeployment ------------------------------------------------------------------------------


def _md_ready(md: ModelDeployment) -> str:
    return f"{md.status.replicas.ready}/{md.spec.replicas}"


def _md_images(md: ModelDeployment) -> str:
    return _join(sorted({m.container.image for e in md.spec.template.spec.engines for m in e.members}))


# ModelReplica ---------------------------------------------------------------------------------


def _mr_pools(mr: ModelReplica) -> str:
    return _join(sorted({m.node_pool_name for e in mr.spec.engines for m in e.members if m.node_pool_name}))


def _owner_name(obj: Resource) -> str:
    return _join([o.name for o in obj.metadata.owner_references])


# InferenceClass / InferenceCluster ------------------------------------------------------------


def _ic_devices(ic: InferenceClass) -> str:
    return _join([f"{d.name}x{d.count}" for d in ic.spec.devices])


def _ic_price(ic: InferenceClass) -> str:
    p = ic.spec.pricing
    return f"{p.per_node_hour:g} {p.currency}/node-h" if p else NONE


def _icl_pools(icl: InferenceCluster) -> str:
    """Each pool, its class and its nodes: as declared, or (Machines) the Ready machines joined."""
    from laneway.placement.fleet import published_nodes

    machines = icl.spec.cluster.source == "Machines"
    return _join([f"{p.name}({p.class_name})x{published_nodes(icl, p) if machines else p.node_count}" for p in icl.spec.node_pools])


def _icl_machines(icl: InferenceCluster) -> str:
    """The machines joined to a Machines cluster, with their pool and, when not Ready, that."""
    return _join([f"{m.name}({m.pool}{'' if m.ready else ',NotReady'})" for m in icl.status.machines])


def _icl_devices(icl: InferenceCluster) -> str:
    pools = icl.status.gpu_pools
    return str(sum(p.devices for p in pools)) if pools else NONE


# ModelService / ModelEndpoint / ModelCache / InferenceTicket ------------------------------------


def _icl_engines(icl: InferenceCluster) -> str:
    """The engines a Local cluster allows (`!` marks one that runs any command); `-` elsewhere."""
    from laneway.placement.engines import engine_policy

    policy = engine_policy(icl)
    if policy is None:
        return NONE
    if not policy.engines:
        return "none allowed"
    return _join([e.name + ("!" if e.allow_command else "") for e in policy.engines])


def _ms_endpoints(ms: ModelService) -> str:
    resolved = ms.status.endpoints
    return str(len(resolved)) if resolved or ms.status.conditions else NONE


def _me_ready(me: ModelEndpoint) -> str:
    if me.status.ready is not None:
        return "True" if me.status.ready else "False"
    return condition_status(me)


def _mc_ready(mc: ModelCache) -> str:
    clusters = mc.status.clusters
    if not clusters:
        return NONE
    return f"{sum(1 for c in clusters if c.state == 'Ready')}/{len(clusters)}"


MAX_CACHE_CLUSTERS_SHOWN = 3
"""A cache on a dozen clusters would make the row wider than any screen; past this many the
cell counts the rest (`describe` lists them all)."""


def _mc_clusters(mc: ModelCache) -> str:
    """Per-cluster state and size: `local=Ready(98.0MB),eu-1=Hydrating(12.5MB),+9 more`."""
    parts = []
    for c in mc.status.clusters[:MAX_CACHE_CLUSTERS_SHOWN]:
        size = f"({c.bytes / 1e6:.1f}MB)" if c.bytes is not None else ""
        parts.append(f"{c.cluster}={c.state}{size}")
    rest = len(mc.status.clusters) - MAX_CACHE_CLUSTERS_SHOWN
    if rest > 0:
        parts.append(f"+{rest} more")
    return ",".join(parts) or NONE


def _mc_source_detail(mc: ModelCache) -> str:
    s = mc.spec
    if s.hugging_face:
        return s.hugging_face.repo
    if s.s3:
        return s.s3.uri
    if s.http:
        return s.http.url
    if s.local:
        return s.local.path
    return NONE


# Ticket conditions where True is the trouble and False the normal state (`NoCanary`,
# `WithinBudget`): their False says nothing is wrong, so it is never the ticket's STATUS.
_TK_TROUBLE_WHEN_TRUE = ("CanaryRolledBack", "RolledBack", "RetirementWarning", "Retired")


def ticket_status(tk: Resource) -> str:
    """What matters about a ticket: a trouble (a rollback, a failing row, a pending approval),
    else `Serving` (approved and its objects composed) or `Approved`."""
    if tk.metadata.deletion_timestamp:
        return "Deleting"
    conditions = _conditions(tk)
    for c in conditions:
        if c.type in _TK_TROUBLE_WHEN_TRUE and c.status == "True":
            return c.reason or c.type
    for c in conditions:
        if c.type not in _TK_TROUBLE_WHEN_TRUE and c.type != "Ready" and c.status == "False":
            return c.reason or f"Not{c.type}"
    ready = find_condition(conditions, "Ready")
    composed = find_condition(conditions, "Composed")
    if ready is not None and ready.status == "True":
        return "Serving" if composed is not None and composed.status == "True" else "Approved"
    return status_summary(tk)


def _tk_approved(tk: InferenceTicket) -> str:
    a = tk.status.approved
    return NONE if a is None else ("True" if a else "False")


def _or_none(value: object) -> str:
    return NONE if value is None or value == "" else str(value)


READY = Column("READY", condition_status)
STATUS = Column("STATUS", status_summary)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "InferenceGateway": (
        Column("ADDRESS", lambda o: _or_none(o.status.address or o.spec.address)),
        Column("LISTENERS", lambda o: _join([f"{listener.name}:{listener.port}" for listener in o.spec.listeners])),
        READY,
        STATUS,
        Column("REQUIRE-API-KEY", lambda o: str(o.spec.policy.require_api_key).lower(), wide_only=True),
    ),
    "InferenceClass": (
        Column("DEVICES", _ic_devices),
        Column("DRIVER", lambda o: _join(sorted({d.driver for d in o.spec.devices}))),
        Column("PRICE", _ic_price),
        Column("DESCRIPTION", lambda o: _or_none(o.spec.description), wide_only=True),
    ),
    "InferenceCluster": (
        Column("SOURCE", lambda o: o.spec.cluster.source),
        Column("POOLS", _icl_pools),
        Column("DEVICES", _icl_devices),
        READY,
        STATUS,
        Column("LABELS", _labels, wide_only=True),
        Column("TAINTS", lambda o: _join([f"{t.key}={t.value}:{t.effect}" for t in o.spec.taints]), wide_only=True),
        Column("MACHINES", _icl_machines, wide_only=True),
        Column("ENGINES", _icl_engines, wide_only=True),
    ),
    "Secret": (
        Column("TYPE", lambda o: o.type),
        Column("DATA", lambda o: str(len(o.data))),
    ),
    "ModelDeployment": (
        Column("READY", _md_ready),
        Column("REPLICAS", lambda o: str(o.status.replicas.total)),
        STATUS,
        Column("ENGINES", lambda o: _join([e.name for e in o.spec.template.spec.engines]), wide_only=True),
        Column("IMAGES", _md_images, wide_only=True),
        Column("CLUSTER-SELECTOR", lambda o: selector_text(o.spec.template.spec.cluster_selector), wide_only=True),
        Column("RETIRES", lambda o: retires_text(o)),
        Column("OWNER", lambda o: _or_none(owner_text(o)), wide_only=True),
        Column("TICKET", lambda o: _or_none(ticket_of(o)), wide_only=True),
    ),
    "ModelReplica": (
        Column("CLUSTER", lambda o: o.spec.cluster_name),
        Column("POOL", _mr_pools),
        READY,
        STATUS,
        Column("PHASE", lambda o: _or_none(o.status.phase)),
        Column("DEPLOYMENT", _owner_name, wide_only=True),
        Column("ENDPOINT", lambda o: _or_none(o.status.endpoint), wide_only=True),
    ),
    "ModelEndpoint": (
        Column("URL", lambda o: o.spec.url),
        Column("READY", _me_ready),
        STATUS,
        Column("MODEL", lambda o: _or_none(o.spec.model), wide_only=True),
        Column("LABELS", _labels, wide_only=True),
    ),
    "ModelService": (
        Column("ADDRESS", lambda o: _or_none(o.status.address)),
        Column("ENDPOINTS", _ms_endpoints),
        READY,
        STATUS,
        Column("MODELS", lambda o: _join(o.spec.model_names), wide_only=True),
        Column("OWNER", lambda o: _or_none(o.spec.owner.team if o.spec.owner else None), wide_only=True),
        Column("BOUNDARY", lambda o: selector_text(o.spec.data_boundary), wide_only=True),
    ),
    "ModelCache": (
        Column("SOURCE", lambda o: o.spec.source),
        Column("READY", _mc_ready),
        Column("CLUSTERS", _mc_clusters),
        STATUS,
        Column("FROM", _mc_source_detail, wide_only=True),
        Column("CLUSTER-SELECTOR", lambda o: selector_text(o.spec.cluster_selector), wide_only=True),
    ),
    "InferenceTicket": (
        Column("APPROVED", _tk_approved),
        Column("STATUS", ticket_status),
        READY,
        Column("MODEL", lambda o: _or_none(o.spec.model.name if o.spec.model else None), wide_only=True),
    ),
}


def columns_for(kind: str, *, wide: bool) -> tuple[Column, ...]:
    return tuple(c for c in COLUMNS.get(kind, (READY,)) if wide or not c.wide_only)
