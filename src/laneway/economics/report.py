"""The economics of services and namespaces over a window, from what the store holds. Pure.

Tokens come from the gateways' entries in each ModelService's `status.traffic` (one entry per
gateway, so summing them counts every request once); each entry's token counts are totals
from its `since`, when that gateway began metering (a restarted gateway carries its totals and
`since` over). They are not kept per hour, so a figure's span starts at the earliest `since`
of the entries that metered the service, inside the window or before it, and capacity is
priced over that same span: cost per million tokens never divides one period's capacity by
another period's tokens. A report's window therefore bounds the span only when no token
totals are known (then the span is the window). A namespace's spend follows the same rule
(`token_span`): its replicas' capacity and its services' external tokens both run from the
earliest `since` of the entries that metered any of its services.

Which endpoints are self-hosted: those owned by a ModelReplica (the replica controller writes
them); every other endpoint is external and priced by its own `pricing`. Replicas deleted
before the report are no longer in the store and are not charged: the capacity is that of the
replicas alive now, from their creation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.economics.breakeven import break_even_tokens_per_hour
from laneway.economics.capacity import MixedCurrencies, Window, capacity_cost
from laneway.economics.occupancy import occupancy, parse_timestamp
from laneway.economics.tokens import TokenPrice, Tokens, cost_per_million, token_cost

COMPARE_TIERS = ("Overflow", "BreakGlass")


@dataclass(frozen=True)
class DeploymentFigures:
    name: str
    replicas: int
    capacity_cost: float
    tokens: Tokens
    cost_per_million: float | None


@dataclass(frozen=True)
class ProviderFigures:
    """An external endpoint of a service: the tokens sent to it and what they cost."""

    endpoint: str
    tier: str
    tokens: Tokens
    price: TokenPrice | None
    cost: float | None
    """None when the endpoint declares no `pricing`."""


@dataclass(frozen=True)
class ServiceEconomics:
    namespace: str
    name: str
    span: Window
    currency: str
    capacity_cost: float
    self_hosted_tokens: Tokens
    cost_per_million: float | None
    deployments: list[DeploymentFigures]
    providers: list[ProviderFigures]
    external_cost: float
    """External tokens priced in `currency`; those priced in another are named in `problems`."""
    compared_with: str | None
    """The priced Overflow (else BreakGlass) endpoint the self-hosted tokens are priced at."""
    same_tokens_bought: float | None
    bought_per_million: float | None
    break_even_tokens_per_hour: float | None
    tokens_per_hour: float
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NamespaceSpend:
    """A namespace's spend over `span`: the capacity its replicas held and what its services'
    external tokens cost, both over the same period."""

    namespace: str
    span: Window
    currency: str
    self_hosted: float | None
    """None when its replicas' pools are priced in several currencies (see `problems`)."""
    external: float
    """External tokens priced in `currency`; those priced in another are named in `problems`."""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    window: Window
    services: list[ServiceEconomics]
    namespaces: list[NamespaceSpend]


@dataclass(frozen=True)
class Fleet:
    """What the report reads, as the store holds it."""

    services: Sequence[ModelService]
    endpoints: Sequence[ModelEndpoint]
    replicas: Sequence[ModelReplica]
    clusters: Mapping[str, InferenceCluster]
    classes: Mapping[str, InferenceClass]


def _owner_replica(endpoint: ModelEndpoint) -> str | None:
    return next(
        (
            o.name
            for o in endpoint.metadata.owner_references
            if o.kind == "ModelReplica"
        ),
        None,
    )


def _price(endpoint: ModelEndpoint) -> TokenPrice | None:
    p = endpoint.spec.pricing
    if p is None:
        return None
    return TokenPrice(
        per_million_input=p.per_million_input_tokens,
        per_million_output=p.per_million_output_tokens,
        currency=p.currency,
    )


def metered(
    service: ModelService,
) -> tuple[dict[str, tuple[str, Tokens]], float | None]:
    """Tokens per endpoint summed over the gateways' entries, with their tier, and the earliest
    time any of those gateways began metering."""
    out: dict[str, tuple[str, Tokens]] = {}
    since: float | None = None
    for entry in service.status.traffic or []:
        if not entry.tokens:
            continue
        start = parse_timestamp(entry.since)
        if start is not None:
            since = start if since is None else min(since, start)
        for name, t in entry.tokens.items():
            tier, before = out.get(name, (t.tier, Tokens()))
            out[name] = (tier, before + Tokens(t.prompt, t.completion))
    return out, since


def token_span(since: float | None, window: Window) -> Window:
    """The period figures run over: from `since`, when the token totals began (inside the
    window or before it), to the window's end; the window itself when no totals are known."""
    return Window(since, window.end) if since is not None and since < window.end else window


def service_economics(
    service: ModelService, fleet: Fleet, window: Window
) -> ServiceEconomics:
    ns = service.metadata.namespace or ""
    by_tokens, since = metered(service)
    span = token_span(since, window)
    endpoints = {
        e.metadata.name: e for e in fleet.endpoints if e.metadata.namespace == ns
    }
    replicas = {
        r.metadata.name: r for r in fleet.replicas if r.metadata.namespace == ns
    }
    problems: list[str] = []

    # Self-hosted: the deployments behind the endpoints the service resolves or metered.
    names = {e.name for e in service.status.endpoints} | set(by_tokens)
    deployment_tokens: dict[str, Tokens] = {}
    providers: list[ProviderFigures] = []
    for name in sorted(names):
        endpoint = endpoints.get(name)
        tier, tokens = by_tokens.get(name, ("Primary", Tokens()))
        owner = _owner_replica(endpoint) if endpoint is not None else None
        replica = replicas.get(owner) if owner else None
        if replica is not None:
            deployment = replica.metadata.labels.get(
                DEPLOYMENT_LABEL, replica.metadata.name
            )
            deployment_tokens[deployment] = (
                deployment_tokens.get(deployment, Tokens()) + tokens
            )
        elif endpoint is not None and owner is None:
            price = _price(endpoint)
            providers.append(
                ProviderFigures(
                    name,
                    tier,
                    tokens,
                    price,
                    None if price is None else token_cost(tokens, price),
                )
            )
        elif tokens.total:
            problems.append(
                f"endpoint {name} metered {tokens.total} tokens but is gone from the store"
            )

    deployments: list[DeploymentFigures] = []
    currency = sole_currency(providers)
    for deployment in sorted(deployment_tokens):
        own = [
            r
            for r in replicas.values()
            if r.metadata.labels.get(DEPLOYMENT_LABEL) == deployment
        ]
        occ = occupancy(own, fleet.clusters, fleet.classes)
        problems.extend(occ.unpriced)
        try:
            cost = capacity_cost(occ.holdings, span, currency=currency)
        except MixedCurrencies as e:
            problems.append(str(e))
            continue
        currency = cost.currency
        tokens = deployment_tokens[deployment]
        deployments.append(
            DeploymentFigures(
                deployment,
                len(own),
                cost.total,
                tokens,
                cost_per_million(cost.total, tokens),
            )
        )

    capacity = sum(d.capacity_cost for d in deployments)
    self_tokens = sum((d.tokens for d in deployments), Tokens())
    compare = _comparison(service, providers, endpoints)
    bought = token_cost(self_tokens, compare[1]) if compare else None
    if compare and deployments and compare[1].currency != currency:
        problems.append(
            f"{compare[0]} is priced in {compare[1].currency}, the capacity in {currency}: not compared"
        )
        compare, bought = None, None
    external, elsewhere = priced_in(currency, providers)
    problems.extend(elsewhere)
    hours = span.hours
    return ServiceEconomics(
        namespace=ns,
        name=service.metadata.name,
        span=span,
        currency=currency,
        capacity_cost=capacity,
        self_hosted_tokens=self_tokens,
        cost_per_million=cost_per_million(capacity, self_tokens),
        deployments=deployments,
        providers=providers,
        external_cost=external,
        compared_with=compare[0] if compare else None,
        same_tokens_bought=bought,
        bought_per_million=compare[1].blended(self_tokens) if compare else None,
        break_even_tokens_per_hour=(
            break_even_tokens_per_hour(
                cost_per_hour=capacity / hours,
                price_per_million=compare[1].blended(self_tokens),
            )
            if compare
            else None
        ),
        tokens_per_hour=self_tokens.total / hours,
        problems=problems,
    )


def sole_currency(providers: Iterable[ProviderFigures]) -> str:
    """The currency figures are given in when no capacity names one: the priced providers' own
    when they all share it, else USD (`priced_in` then names the others)."""
    currencies = {p.price.currency for p in providers if p.price is not None and p.cost is not None}
    return currencies.pop() if len(currencies) == 1 else "USD"


def priced_in(currency: str, providers: Iterable[ProviderFigures]) -> tuple[float, list[str]]:
    """What the priced `providers` cost in `currency`, and a note naming each priced in another.
    laneway converts no currency, so a cost in another is named, never added to the figure."""
    total = 0.0
    problems: list[str] = []
    for p in providers:
        if p.price is None or p.cost is None:
            continue
        if p.price.currency == currency:
            total += p.cost
        else:
            problems.append(
                f"provider {p.endpoint} is priced in {p.price.currency}, the spend in {currency}: "
                f"its {p.cost:.4f} {p.price.currency} is not added"
            )
    return total, problems


def _comparison(
    service: ModelService,
    providers: list[ProviderFigures],
    endpoints: Mapping[str, ModelEndpoint],
) -> tuple[str, TokenPrice] | None:
    """The priced provider the self-hosted tokens are compared with: an Overflow endpoint the
    service resolves (else a BreakGlass one), by name."""
    resolved = {e.name: e.tier for e in service.status.endpoints}
    for tier in COMPARE_TIERS:
        for name in sorted(n for n, t in resolved.items() if t == tier):
            endpoint = endpoints.get(name)
            price = (
                _price(endpoint)
                if endpoint is not None and _owner_replica(endpoint) is None
                else None
            )
            if price is not None:
                return name, price
    return next(
        (
            (p.endpoint, p.price)
            for p in providers
            if p.price is not None and p.tier in COMPARE_TIERS
        ),
        None,
    )


def namespace_spend(
    namespace: str,
    fleet: Fleet,
    services: Sequence[ServiceEconomics],
    window: Window,
) -> NamespaceSpend:
    """What `namespace` spent over its span: its replicas' capacity (whether or not traffic
    reached them) and its services' external tokens (`services`: the namespace's figures).

    The external tokens are totals since the gateways began metering, so the capacity is priced
    from the earliest `since` among the namespace's services too, never over a window of
    another length."""
    starts = [
        since
        for s in fleet.services
        if (s.metadata.namespace or "") == namespace
        and (since := metered(s)[1]) is not None
    ]
    span = token_span(min(starts) if starts else None, window)
    occ = occupancy(
        [r for r in fleet.replicas if (r.metadata.namespace or "") == namespace],
        fleet.clusters,
        fleet.classes,
    )
    problems = list(occ.unpriced)
    providers = [p for s in services for p in s.providers]
    try:
        cost = capacity_cost(occ.holdings, span, currency=sole_currency(providers))
        currency, self_hosted = cost.currency, cost.total
    except MixedCurrencies as e:
        problems.append(str(e))
        currency, self_hosted = "USD", None
    external, elsewhere = priced_in(currency, providers)
    problems.extend(elsewhere)
    return NamespaceSpend(namespace, span, currency, self_hosted, external, problems)


def report(fleet: Fleet, window: Window, *, service: str | None = None) -> Report:
    """Every service's economics (or only `service`'s), and each namespace's spend over its
    span (`namespace_spend`), always from all the fleet's services."""
    every = [
        service_economics(s, fleet, window)
        for s in sorted(
            fleet.services, key=lambda s: (s.metadata.namespace or "", s.metadata.name)
        )
    ]
    namespaces = [
        namespace_spend(ns, fleet, [s for s in every if s.namespace == ns], window)
        for ns in sorted(
            {s.metadata.namespace or "" for s in fleet.services}
            | {r.metadata.namespace or "" for r in fleet.replicas}
        )
    ]
    shown = [s for s in every if service is None or s.name == service]
    return Report(window=window, services=shown, namespaces=namespaces)
