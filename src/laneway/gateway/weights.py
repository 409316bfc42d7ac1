"""Weights as Modelplane defines them, plus laneway's tiers and data boundary. Pure.

`weights(service, endpoints)` answers, for one ModelService and the ModelEndpoints of its
namespace: which endpoints each entry may send traffic to, and which endpoints were left out
and why. Modelplane's rule: an entry's weight is its share of traffic, spread evenly over the
ready endpoints it matches; an entry with no ready endpoint is dropped, so scaling a
deployment up or down does not change its share. laneway adds:

- a tier per entry (Primary, Overflow, BreakGlass); shares are computed within a tier;
- the service's `dataBoundary`: an endpoint whose labels do not satisfy it is excluded from
  every tier, external ones included, and the exclusion says which requirement failed. Only
  labels someone other than the team vouches for count (`laneway.gateway.provenance`): a
  team-written endpoint is judged on the labels of the provider the platform vouches for at
  its host, and without one it lies outside every boundary;
- readiness: an endpoint with `status.ready: false`, or one being deleted, takes no traffic.

`blocked` lets the caller exclude endpoints for reasons only it can see (a missing auth
Secret), so every exclusion is reported in one list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from laneway.api.kinds.platform import ExternalProvider
from laneway.api.kinds.serving import ModelEndpoint, ModelService, Tier
from laneway.api.meta import ObjectKey
from laneway.gateway.provenance import boundary_refusal

TIERS: tuple[Tier, ...] = ("Primary", "Overflow", "BreakGlass")


@dataclass(frozen=True)
class Target:
    """One endpoint as the proxy needs it: where to send, what to add, how much it may hold."""

    key: ObjectKey
    name: str
    base_url: str
    """`spec.url` joined with `spec.rewritePath`, without a trailing slash."""
    model: str | None
    max_in_flight: int | None
    labels: tuple[tuple[str, str], ...]
    bearer: str | None = None
    """The upstream bearer token from `auth.secretRef`, resolved by the table builder."""
    entry: str = ""
    """The name of the service entry this target was reached through (see `entry_name`):
    metering counts per entry, so a canary entry is judged on its own figures."""
    guarded: bool = False
    """The URL was written by the team lane (not an engine laneway placed): the proxy connects
    to it only through the egress policy (`laneway.egress.aio`)."""

    @property
    def external(self) -> bool:
        return self.bearer is not None or urlsplit(self.base_url).scheme == "https"


@dataclass(frozen=True)
class Entry:
    """One `spec.endpoints[]` entry that kept at least one routable endpoint."""

    index: int
    tier: Tier
    weight: int
    targets: tuple[Target, ...]
    name: str = ""
    """`entry_name` of the spec entry."""


def entry_name(name: str | None, index: int) -> str:
    """How metering and the status name a service entry: its `name`, else `endpoints[INDEX]`."""
    return name or f"endpoints[{index}]"


@dataclass(frozen=True)
class Exclusion:
    name: str
    reason: str


@dataclass(frozen=True)
class ServiceWeights:
    entries: tuple[Entry, ...]
    excluded: tuple[Exclusion, ...]

    def tier(self, tier: Tier) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.tier == tier)

    def shares(self) -> list[tuple[str, Tier, float]]:
        """Each endpoint's share of its tier's traffic (0..1), as the status reports it."""
        out: dict[tuple[str, Tier], float] = {}
        for tier in TIERS:
            entries = self.tier(tier)
            total = sum(e.weight for e in entries)
            if not total:
                continue
            for e in entries:
                for t in e.targets:
                    out[(t.name, tier)] = out.get((t.name, tier), 0.0) + e.weight / total / len(e.targets)
        return [(name, tier, round(share, 4)) for (name, tier), share in sorted(out.items(), key=lambda kv: (TIERS.index(kv[0][1]), kv[0][0]))]


def placed_by_laneway(endpoint: ModelEndpoint) -> bool:
    """An endpoint of a replica laneway placed (its controller owner is a ModelReplica, which no
    team token can write): its address is laneway's own, not a team-written URL."""
    return any(ref.controller and ref.kind == "ModelReplica" for ref in endpoint.metadata.owner_references)


def base_url(endpoint: ModelEndpoint) -> str:
    """Where requests for this endpoint go: its url with `rewritePath` as the path prefix."""
    url = endpoint.spec.url.rstrip("/")
    rewrite = (endpoint.spec.rewrite_path or "").strip("/")
    return f"{url}/{rewrite}" if rewrite else url


def _not_routable(endpoint: ModelEndpoint, service: ModelService, providers: Sequence[ExternalProvider]) -> str | None:
    if endpoint.metadata.deletion_timestamp:
        return "being deleted"
    if endpoint.status.ready is False:
        return "not ready (status.ready is false)"
    return boundary_refusal(endpoint, service.spec.data_boundary, providers)


def weights(
    service: ModelService,
    endpoints: Iterable[ModelEndpoint],
    *,
    blocked: Mapping[str, str] | None = None,
    bearers: Mapping[str, str] | None = None,
    providers: Sequence[ExternalProvider] = (),
) -> ServiceWeights:
    """The routable entries of `service` and the endpoints it may not use, with reasons.

    Only endpoints in the service's own namespace are considered. An endpoint that no entry
    selects is neither routed nor reported. `bearers` maps endpoint name to its resolved
    upstream token; `blocked` maps endpoint name to a reason it may not be used; `providers`
    are those the platform vouches for (the boundary reads their labels for a team's endpoint
    at their host).
    """
    blocked = blocked or {}
    bearers = bearers or {}
    ns = service.namespace
    candidates = sorted((e for e in endpoints if e.namespace == ns), key=lambda e: e.name)
    entries: list[Entry] = []
    excluded: dict[str, str] = {}
    for index, spec_entry in enumerate(service.spec.endpoints):
        label = entry_name(spec_entry.name, index)
        targets: list[Target] = []
        for ep in candidates:
            if not spec_entry.selector.matches(ep.metadata.labels):
                continue
            reason = _not_routable(ep, service, providers) or blocked.get(ep.name)
            if reason:
                excluded.setdefault(ep.name, reason)
                continue
            targets.append(
                Target(
                    key=ep.key,
                    name=ep.name,
                    base_url=base_url(ep),
                    model=ep.spec.model,
                    max_in_flight=ep.spec.max_in_flight,
                    labels=tuple(sorted(ep.metadata.labels.items())),
                    bearer=bearers.get(ep.name),
                    entry=label,
                    guarded=not placed_by_laneway(ep),
                )
            )
        if targets and spec_entry.weight > 0:
            entries.append(Entry(index=index, tier=spec_entry.tier, weight=spec_entry.weight, targets=tuple(targets), name=label))
    return ServiceWeights(
        entries=tuple(entries),
        excluded=tuple(Exclusion(name, reason) for name, reason in sorted(excluded.items())),
    )
