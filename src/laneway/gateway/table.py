"""The routing table: everything a request needs, computed once per store change. Pure.

`build_table` turns lists of ModelServices, ModelEndpoints, Secrets and InferenceGateways into
one immutable `RoutingTable`. The gateway holds a reference to the current table and replaces
the reference when the store changes, so a request in flight keeps the table it started with
and never sees a half-built one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import BudgetStatus, InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import (
    DEFAULT_ROUTING_POLICY,
    ModelEndpoint,
    ModelService,
    RateLimit,
    ServiceEconomicsFigures,
    ServiceQuality,
    ServiceSLO,
    Tier,
)
from laneway.api.labels import RETIRED_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.egress.destinations import credential_refusal
from laneway.egress.hosts import host_port
from laneway.egress.policy import EgressPolicy
from laneway.gateway.keys import KeyIndex, build_key_index
from laneway.gateway.ownership import published_names, resolve_ownership
from laneway.gateway.policies.least_outstanding import LeastOutstanding
from laneway.gateway.policy import BalancingPolicy, UnknownPolicy, policy_class
from laneway.gateway.provenance import vouched_providers
from laneway.gateway.weights import Entry, Exclusion, ServiceWeights, base_url, placed_by_laneway, weights

TIERS: tuple[Tier, ...] = ("Primary", "Overflow", "BreakGlass")

EGRESS_REFUSED = "EgressRefused"
CREDENTIAL_REFUSED = "CredentialRefused"


@dataclass(frozen=True)
class ServiceRoute:
    key: ObjectKey
    generation: int | None
    tiers: Mapping[Tier, tuple[Entry, ...]]
    excluded: tuple[Exclusion, ...]
    shares: tuple[tuple[str, Tier, float], ...]
    model_names: tuple[str, ...]
    break_glass: bool
    allow_break_glass_fallback: bool
    queue_timeout: float | None
    rate_limit: RateLimit | None
    slo: ServiceSLO | None
    problems: tuple[str, ...] = ()
    scale_from_zero: bool = False
    """A deployment behind it scales from zero (the autoscaler marks `status.scaleFromZero`):
    with no routable endpoint, requests wait for a replica instead of failing at once."""
    retired: str | None = None
    """The service's retirement message (`laneway.dev/retired`): every request gets 410 Gone."""
    name_conflicts: tuple[str, ...] = ()
    """Model names this service publishes that another namespace owns (see `ownership`): no
    `/v1` route for them, and a `ModelNameConflict` condition on the status."""
    policy: type[BalancingPolicy] = LeastOutstanding
    """The balancing policy `spec.routing.policy` names (the gateway keeps one instance per
    service, see `Proxy.policy_for`)."""

    @property
    def has_overflow(self) -> bool:
        return bool(self.tiers.get("Overflow"))

    @cached_property
    def slo_ttft(self) -> float | None:
        """`slo.p95TimeToFirstToken` in seconds: above it, a request overflows (see `slo`)."""
        raw = self.slo.p95_time_to_first_token if self.slo is not None else None
        return parse_duration(raw) if raw else None

    def tier_order(self) -> tuple[Tier, ...]:
        """Tiers in the order a request tries them.

        Switch on: BreakGlass first, the others only if it cannot answer. Switch off: Primary,
        then Overflow, then BreakGlass only when the service allows it as a last resort.
        """
        if self.break_glass:
            return ("BreakGlass", "Primary", "Overflow")
        if self.allow_break_glass_fallback:
            return ("Primary", "Overflow", "BreakGlass")
        return ("Primary", "Overflow")

    def routable(self) -> bool:
        """Whether some tier the service may use has an entry (asked on every request, so
        computed once: the route is immutable)."""
        return self._routable

    @cached_property
    def _routable(self) -> bool:
        return any(self.tiers.get(t) for t in self.tier_order())


@dataclass(frozen=True)
class RoutingTable:
    services: Mapping[ObjectKey, ServiceRoute] = field(default_factory=dict)
    by_model: Mapping[str, tuple[ObjectKey, ...]] = field(default_factory=dict)
    """Model name -> the services that answer to it on `/v1`: only the owning namespace's
    (see `ownership`), in claim order."""
    name_losers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Model name -> other namespaces that publish it too and were refused it."""
    keys: KeyIndex = field(default_factory=KeyIndex)
    max_request_body_bytes: int | None = None
    client_header_timeout: float | None = None
    """Seconds, from an InferenceGateway's `policy.clientHeaderTimeout` (the shortest, when
    several set it); None: the gateway process's own setting."""
    client_body_timeout: float | None = None
    """Seconds, from `policy.clientBodyTimeout`, likewise."""
    public_address: str | None = None
    """What service statuses advertise when set: the first InferenceGateway's (by name)
    `spec.address`, else its `status.address` (the listen address of the gateway process that
    holds it, see `presence`), so every gateway process writes the same service address."""
    revision: int = 0
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    """The fleet's egress policy: team-written endpoint URLs connect only where it allows."""
    economics: Mapping[ObjectKey, ServiceEconomicsFigures] = field(default_factory=dict)
    """Each service's `status.economics`, exported on /metrics (see `economics_metrics`)."""
    quality: Mapping[ObjectKey, ServiceQuality] = field(default_factory=dict)
    """Each service's `status.quality`, exported on /metrics."""
    budgets: tuple[BudgetStatus, ...] = ()
    """The budget ledgers of the InferenceGateways' status, exported on /metrics."""


def resolve_bearers(
    endpoints: Iterable[ModelEndpoint], secrets: Mapping[ObjectKey, Secret]
) -> tuple[dict[ObjectKey, str], dict[ObjectKey, str]]:
    """Each endpoint's upstream bearer token from its `auth.secretRef`, or why it has none it may
    use (a missing Secret, or one its platform writer sends elsewhere); the gateway and the
    quality probes both send an external endpoint's key only so."""
    bearers: dict[ObjectKey, str] = {}
    blocked: dict[ObjectKey, str] = {}
    for ep in endpoints:
        if ep.spec.auth is None:
            continue
        ref = ep.spec.auth.secret_ref
        secret = secrets.get(ObjectKey(ep.namespace, ref.name))
        value = secret.value(ref.key) if secret is not None else None
        refusal = credential_refusal(secret, base_url(ep), use="auth.secretRef") if secret is not None else None
        if refusal is not None:
            blocked[ep.key] = f"{CREDENTIAL_REFUSED}: {refusal}"
        elif value:
            bearers[ep.key] = value
        else:
            blocked[ep.key] = f"auth.secretRef: Secret {ref.name!r} with key {ref.key!r} not found in namespace {ep.namespace!r}"
    return bearers, blocked


def _policy(service: ModelService) -> tuple[type[BalancingPolicy], tuple[str, ...]]:
    """The service's balancing policy. Admission refuses unknown names; one can still arrive
    from a store written by a build with other policies, and then the default balances and the
    service's status says why."""
    name = service.spec.routing_policy
    try:
        return policy_class(name), ()
    except UnknownPolicy as err:
        return LeastOutstanding, (f"routing.policy: {err}; balancing with {DEFAULT_ROUTING_POLICY} meanwhile",)


def _egress_refusals(endpoints: Iterable[ModelEndpoint], policy: EgressPolicy) -> dict[ObjectKey, str]:
    """Team-written URLs the policy refuses before any lookup (an address literal, a denied
    host), so the service's status names the refusal; the rest are judged at connect time."""
    out: dict[ObjectKey, str] = {}
    for ep in endpoints:
        if placed_by_laneway(ep):
            continue
        try:
            where = host_port(base_url(ep))
        except ValueError as exc:
            out[ep.key] = f"{EGRESS_REFUSED}: {exc}"
            continue
        verdict = policy.precheck(where.host, where.port)
        if verdict is not None:
            out[ep.key] = f"{EGRESS_REFUSED}: {verdict.message}"
    return out


def _queue_timeout(service: ModelService) -> float | None:
    return parse_duration(service.spec.queue_timeout) if service.spec.queue_timeout else None


def build_table(
    *,
    services: Iterable[ModelService],
    endpoints: Iterable[ModelEndpoint],
    secrets: Iterable[Secret],
    gateways: Iterable[InferenceGateway] = (),
    revision: int = 0,
) -> RoutingTable:
    services = [s for s in services if not s.metadata.deletion_timestamp]
    endpoints = list(endpoints)
    secret_map = {s.key: s for s in secrets}
    gateway_list = list(gateways)
    require_all = any(g.spec.policy.require_api_key for g in gateway_list)
    body_limits = [g.spec.policy.max_request_body_bytes for g in gateway_list if g.spec.policy.max_request_body_bytes]
    egress = EgressPolicy.from_gateways(gateway_list)
    providers = vouched_providers(gateway_list)
    bearers, blocked = resolve_bearers(endpoints, secret_map)
    blocked = {**_egress_refusals(endpoints, egress), **blocked}
    keys, key_problems = build_key_index(services, secret_map, require_all=require_all)

    by_namespace: dict[str, list[ModelEndpoint]] = {}
    for ep in endpoints:
        by_namespace.setdefault(ep.namespace, []).append(ep)

    spent = _spent_namespaces(gateway_list)
    # Every endpoint laneway did not place is external: a team's endpoint without a declared
    # price is stopped as well, so leaving `pricing` out does not keep overflow going.
    paid = {ep.key for ep in endpoints if not placed_by_laneway(ep)}

    ownership = resolve_ownership(services)
    routes: dict[ObjectKey, ServiceRoute] = {}
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        ns_eps = by_namespace.get(svc.namespace, [])
        w: ServiceWeights = weights(
            svc,
            ns_eps,
            blocked={k.name: v for k, v in blocked.items() if k.namespace == svc.namespace},
            bearers={k.name: v for k, v in bearers.items() if k.namespace == svc.namespace},
            providers=providers,
        )
        names = published_names(svc)
        policy, policy_problem = _policy(svc)
        tiers: dict[Tier, tuple[Entry, ...]] = {tier: w.tier(tier) for tier in TIERS}
        tiers, quality_problem = _without_failing(svc, tiers)
        budget_problem: tuple[str, ...] = quality_problem
        if svc.namespace in spent and not svc.spec.break_glass:
            tiers, dropped = _without_paid(tiers, paid)
            if dropped:
                budget_problem = (
                    f"namespace {svc.namespace} has spent its budget for external providers: overflow to "
                    f"{', '.join(dropped)} stopped until the next period (or turn break-glass on)",
                )
        routes[svc.key] = ServiceRoute(
            key=svc.key,
            generation=svc.metadata.generation,
            tiers=tiers,
            excluded=w.excluded,
            shares=tuple(w.shares()),
            model_names=names,
            break_glass=svc.spec.break_glass,
            allow_break_glass_fallback=svc.spec.allow_break_glass_fallback,
            queue_timeout=_queue_timeout(svc),
            rate_limit=svc.spec.rate_limit,
            slo=svc.spec.slo,
            problems=tuple(key_problems.get(svc.key, ())) + policy_problem + budget_problem,
            scale_from_zero=bool(svc.status.scale_from_zero),
            retired=svc.metadata.annotations.get(RETIRED_ANNOTATION) or None,
            name_conflicts=ownership.conflicts.get(svc.key, ()),
            policy=policy,
        )
    return RoutingTable(
        services=routes,
        by_model=ownership.routed,
        name_losers=ownership.losers,
        keys=keys,
        max_request_body_bytes=min(body_limits) if body_limits else None,
        client_header_timeout=_shortest(g.spec.policy.client_header_timeout for g in gateway_list),
        client_body_timeout=_shortest(g.spec.policy.client_body_timeout for g in gateway_list),
        public_address=_advertised(gateway_list),
        revision=revision,
        egress=egress,
        economics={svc.key: svc.status.economics for svc in services if svc.status.economics is not None},
        budgets=tuple(b for g in gateway_list for b in g.status.budgets or []),
        quality={svc.key: svc.status.quality for svc in services if svc.status.quality is not None},
    )


def _without_failing(
    service: ModelService, tiers: dict[Tier, tuple[Entry, ...]]
) -> tuple[dict[Tier, tuple[Entry, ...]], tuple[str, ...]]:
    """With `quality.eject`, the tiers without the endpoints failing their probes, unless that
    leaves the service nothing to route to: then every endpoint stays, and a problem says so."""
    quality = service.status.quality
    if service.spec.quality is None or not service.spec.quality.eject or quality is None:
        return tiers, ()
    failing = {e.name for e in quality.endpoints if e.failing}
    if not failing:
        return tiers, ()
    out: dict[Tier, tuple[Entry, ...]] = {}
    for tier in TIERS:
        kept = []
        for entry in tiers.get(tier, ()):
            targets = tuple(t for t in entry.targets if t.name not in failing)
            if targets:
                kept.append(replace(entry, targets=targets))
        out[tier] = tuple(kept)
    names = ", ".join(sorted(failing))
    if not any(out.values()):
        return tiers, (f"every endpoint fails its quality probes ({names}): none ejected, so the service still answers",)
    return out, (f"ejected for failing quality probes: {names}",)


def _spent_namespaces(gateways: list[InferenceGateway]) -> frozenset[str]:
    """Namespaces whose budget for external providers is spent (the budget controller's
    ledger on the InferenceGateways' status): computed once per table, never per request."""
    return frozenset(b.namespace for g in gateways for b in g.status.budgets or [] if b.exhausted)


def _without_paid(
    tiers: dict[Tier, tuple[Entry, ...]], paid: set[ObjectKey]
) -> tuple[dict[Tier, tuple[Entry, ...]], list[str]]:
    """The Overflow and BreakGlass tiers without priced external endpoints (the names dropped):
    a spent namespace answers as if it had no paid overflow."""
    dropped: list[str] = []
    out: dict[Tier, tuple[Entry, ...]] = {"Primary": tiers.get("Primary", ())}
    for tier in TIERS[1:]:
        kept: list[Entry] = []
        for entry in tiers.get(tier, ()):
            targets = tuple(t for t in entry.targets if t.key not in paid)
            dropped.extend(t.name for t in entry.targets if t.key in paid)
            if targets:
                kept.append(replace(entry, targets=targets))
        out[tier] = tuple(kept)
    return out, sorted(set(dropped))


def _shortest(durations: Iterable[str | None]) -> float | None:
    seconds = [parse_duration(d) for d in durations if d]
    return min(seconds) if seconds else None


def _advertised(gateways: list[InferenceGateway]) -> str | None:
    ordered = sorted(gateways, key=lambda g: g.name)
    published = next((g.spec.address for g in ordered if g.spec.address), None)
    return published or next((g.status.address for g in ordered if g.status.address), None)
