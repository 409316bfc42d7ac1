"""Writes what the gateway knows onto each ModelService's status, only when it changed.

What a service owner reads there: the address to call, the resolved endpoints with their
share of their tier, the endpoints excluded and why (outside the data boundary, not ready,
missing auth Secret), requests per tier with the p95s of the recent window, and two
conditions: `Ready` (some tier can answer) and `SLOMet` (the p95s against `spec.slo`), plus
`ModelNameConflict` when a model name it publishes belongs to another namespace.

Several gateways may serve one fleet: each writes its own entry in `status.traffic` (keyed by
its identity) and leaves the others' alone. An entry holds the service-wide figures and, under
`entries`, the same figures per service entry (named by `weights.entry_name`), which is what
the canary rollback judges a canary entry by. `SLOMet` is judged over all gateways' entries, so
every gateway writes the same verdict (they never take turns flipping it): requests and errors
add up, and each p95 is the largest of the gateways' p95s, an upper bound of the p95 over all
their requests (at most 5% of each gateway's requests lie above its own p95, so at most 5% of
all lie above the largest), so the fleet's SLO is never reported met when it is not. Only the
entries of gateways that still heartbeat count, and a dead gateway's entry keeps only its
lifetime totals (see `heartbeat`). `status_for` is pure; `StatusWriter` is the thin loop around it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from laneway.api.conditions import find_condition, set_condition
from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import (
    EndpointTokens,
    ExcludedEndpoint,
    GatewayTraffic,
    ModelService,
    ModelServiceStatus,
    ResolvedEndpoint,
    TrafficFigures,
)
from laneway.api.meta import ObjectKey, rfc3339
from laneway.gateway import heartbeat
from laneway.gateway.metering import ServiceSummary, judge_slo
from laneway.gateway.ownership import conflict_message
from laneway.gateway.presence import held_status, holder, released_status, should_claim
from laneway.gateway.table import RoutingTable, ServiceRoute
from laneway.gateway.tasks import start_task, stop_task
from laneway.store.base import Store, StoreError

log = logging.getLogger(__name__)

NAME_CONFLICT = "ModelNameConflict"
"""Condition on a ModelService publishing a model name that another namespace owns (see
`ownership`); False once every name it publishes is its own again."""


def _figures(summary: ServiceSummary) -> TrafficFigures:
    """Requests per tier, errors and the p95s: the shape `laneway.ticket.canary.figures_from_status`
    reads, service-wide and per entry alike."""
    return TrafficFigures(
        requests=dict(sorted(summary.requests_by_tier.items())),
        errors=summary.errors,
        p95_latency_seconds=None if summary.p95_latency is None else round(summary.p95_latency, 4),
        p95_time_to_first_token_seconds=None if summary.p95_ttft is None else round(summary.p95_ttft, 4),
        requests_total=summary.requests_total,
        errors_total=summary.errors_total,
    )


def entry_concurrency(route: ServiceRoute, concurrency: Callable[[ObjectKey], int | None]) -> dict[str, int]:
    """Per service entry, the most any of its endpoints' engines held when full (see
    `load.saturated_running`); entries with no such reading are left out."""
    out: dict[str, int] = {}
    for entries in route.tiers.values():
        for entry in entries:
            for t in entry.targets:
                held = concurrency(t.key)
                if held is not None and held > out.get(entry.name, 0):
                    out[entry.name] = held
    return out


def _traffic_entry(identity: str, summary: ServiceSummary | None, window: float,
                   concurrency: dict[str, int] | None = None) -> GatewayTraffic:
    if summary is None:
        return GatewayTraffic(gateway=identity, window_seconds=window, concurrency=concurrency or None)
    entries = {name: _figures(sub) for name, sub in sorted(summary.entries.items())} if summary.entries else None
    figures = _figures(summary)
    tokens = {name: EndpointTokens(tier=t.tier, prompt=t.prompt, completion=t.completion) for name, t in summary.tokens.items()}
    return GatewayTraffic(
        gateway=identity,
        window_seconds=window,
        requests=figures.requests,
        errors=figures.errors,
        p95_latency_seconds=figures.p95_latency_seconds,
        p95_time_to_first_token_seconds=figures.p95_time_to_first_token_seconds,
        requests_total=figures.requests_total,
        errors_total=figures.errors_total,
        entries=entries,
        since=None if summary.since is None else rfc3339(summary.since),
        tokens=tokens or None,
        concurrency=concurrency or None,
    )


def fleet_summary(own: ServiceSummary | None, others: list[GatewayTraffic]) -> ServiceSummary | None:
    """This gateway's window joined with the other gateways' entries, for the SLO verdict."""
    if not others:
        return own
    requests: dict[str, int] = dict(own.requests_by_tier) if own else {}
    errors = own.errors if own else 0
    samples = own.samples if own else 0
    latencies = [own.p95_latency] if own and own.p95_latency is not None else []
    ttfts = [own.p95_ttft] if own and own.p95_ttft is not None else []
    for t in others:
        for tier, n in t.requests.items():
            requests[tier] = requests.get(tier, 0) + n
        errors += t.errors or 0
        samples += max(0, sum(t.requests.values()) - (t.errors or 0))
        if t.p95_latency_seconds is not None:
            latencies.append(t.p95_latency_seconds)
        if t.p95_time_to_first_token_seconds is not None:
            ttfts.append(t.p95_time_to_first_token_seconds)
    return ServiceSummary(
        requests_by_tier=requests,
        errors=errors,
        samples=samples,
        p95_latency=max(latencies) if latencies else None,
        p95_ttft=max(ttfts) if ttfts else None,
    )


def status_for(
    current: ModelServiceStatus,
    route: ServiceRoute,
    summary: ServiceSummary | None,
    *,
    address: str,
    identity: str,
    window: float,
    live: frozenset[str] | None = None,
    concurrency: dict[str, int] | None = None,
) -> ModelServiceStatus:
    """The status this gateway wants for one service, built on the stored one. `live` names
    the other gateways that still heartbeat: the entries of the rest are `heartbeat.retired`
    and do not count towards SLOMet (None: every entry counts, for a caller that knows no
    heartbeats). `concurrency`: per entry, what its engines held when full (`entry_concurrency`)."""
    urls = {t.name: t.base_url for entries in route.tiers.values() for e in entries for t in e.targets}
    endpoints = [ResolvedEndpoint(name=n, url=urls.get(n), tier=tier, weight=share) for n, tier, share in route.shares]
    excluded = [ExcludedEndpoint(name=e.name, reason=e.reason) for e in route.excluded]
    conditions = list(current.conditions)
    if route.retired:
        conditions = set_condition(
            conditions, type="Ready", status="False", reason="Retired",
            message=f"answers 410 Gone: {route.retired}", observed_generation=route.generation,
        )
    elif route.tiers.get("Primary"):
        conditions = set_condition(
            conditions, type="Ready", status="True", reason="EndpointsReady",
            message=f"{len(endpoints)} endpoint(s) routable", observed_generation=route.generation,
        )
    elif route.routable():
        # Only an overflow (or break-glass) tier answers: the service works, but not as declared
        # (no replica of its own), and an overflow provider it cannot reach would fail every call.
        fallback = [n for n, tier, _ in route.shares if tier != "Primary"]
        why = "; ".join(f"{e.name}: {e.reason}" for e in route.excluded)
        conditions = set_condition(
            conditions, type="Ready", status="False", reason="OverflowOnly",
            message=f"no primary endpoint is routable; requests go to {', '.join(fallback) or 'a fallback tier'} only"
            + (f" ({why})" if why else ""),
            observed_generation=route.generation,
        )
    else:
        why = "; ".join(f"{e.name}: {e.reason}" for e in route.excluded) or "no endpoint matches any entry's selector"
        conditions = set_condition(
            conditions, type="Ready", status="False", reason="NoReadyEndpoint",
            message=f"no tier can answer ({why})", observed_generation=route.generation,
        )
    if route.name_conflicts:
        conditions = set_condition(
            conditions, type=NAME_CONFLICT, status="True", reason="NameOwnedElsewhere",
            message=conflict_message(route.key, route.name_conflicts), observed_generation=route.generation,
        )
    elif find_condition(conditions, NAME_CONFLICT) is not None:
        conditions = set_condition(
            conditions, type=NAME_CONFLICT, status="False", reason="NamesOwned",
            message="every model name of this service routes to it on /v1", observed_generation=route.generation,
        )
    others: list[GatewayTraffic] = []
    gone: list[GatewayTraffic] = []
    for t in current.traffic or []:
        if t.gateway == identity:
            continue
        if live is None or t.gateway in live:
            others.append(t)
        elif (kept := heartbeat.retired(t)) is not None:
            gone.append(kept)
    verdict = judge_slo(route.slo, fleet_summary(summary, others))
    conditions = set_condition(
        conditions, type="SLOMet", status=verdict.status, reason=verdict.reason,  # type: ignore[arg-type]
        message=verdict.message, observed_generation=route.generation,
    )
    traffic = sorted([*others, *gone, _traffic_entry(identity, summary, window, concurrency)], key=lambda t: t.gateway)
    return current.model_copy(
        update={
            "observed_generation": route.generation,
            "conditions": conditions,
            "address": address,
            "endpoints": endpoints,
            "excluded": excluded,
            "traffic": traffic,
            "problems": list(route.problems) or None,
        }
    )


class StatusWriter:
    def __init__(
        self,
        store: Store,
        *,
        table: Callable[[], RoutingTable],
        summary: Callable[[ObjectKey], ServiceSummary | None],
        address: Callable[[ObjectKey], str],
        identity: str,
        interval: float,
        window: float,
        heartbeat_ttl: float,
        own_address: str | None = None,
        probe: Callable[[str], Awaitable[bool]] | None = None,
        clock: Callable[[], float] = time.time,
        concurrency: Callable[[ObjectKey], int | None] = lambda _key: None,
    ) -> None:
        """`own_address` (this gateway's listen address) turns on the InferenceGateway status
        (see `presence`); `probe(address)` says whether another gateway there still answers.
        `heartbeat_ttl`: how long this gateway's heartbeat lease lasts (see `heartbeat`);
        `clock` is the wall clock leases are judged by (the store's). `concurrency(endpoint)` is
        an endpoint's measured concurrency (`EndpointState.concurrency`)."""
        self._concurrency = concurrency
        self._store = store
        self._heartbeat_ttl = heartbeat.ttl(heartbeat_ttl=heartbeat_ttl, status_interval=interval)
        self._clock = clock
        self._own = own_address
        self._probe = probe
        self._table = table
        self._summary = summary
        self._address = address
        self._identity = identity
        self._interval = interval
        self._window = window
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = start_task(self._run(), name="gateway-status")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def flush(self) -> None:
        """Write every service's and InferenceGateway's status now (tests and shutdown call it)."""
        table = self._table()
        work = [(route, self._summary(key), self._address(key), entry_concurrency(route, self._concurrency))
                for key, route in table.services.items()]
        await asyncio.to_thread(self._beat)
        await asyncio.to_thread(self._write_all, work)
        await self._flush_gateways()

    async def release(self) -> None:
        """On shutdown: end this gateway's heartbeat, so the other gateways drop its figures at
        their next tick, and leave the InferenceGateways this process holds not Ready, so
        another gateway claims them (see `presence`)."""
        await asyncio.to_thread(self._store.release_lease, heartbeat.lease_name(self._identity), self._identity)
        if self._own is None:
            return
        await asyncio.to_thread(self._release_gateways, self._own)

    def _beat(self) -> None:
        """Renew this gateway's heartbeat before writing figures (see `heartbeat`)."""
        if not self._store.acquire_lease(heartbeat.lease_name(self._identity), self._identity, self._heartbeat_ttl):
            log.warning("gateway %s: another process holds its heartbeat lease; give each gateway its own identity",
                        self._identity)

    async def _flush_gateways(self) -> None:
        if self._own is None:
            return
        gateways = await asyncio.to_thread(self._list_gateways)
        alive: dict[str, bool] = {}
        for g in gateways:
            held_by = holder(g)
            if held_by is not None and held_by != self._own and held_by not in alive:
                alive[held_by] = await self._probe(held_by) if self._probe is not None else True
        await asyncio.to_thread(self._write_gateways, gateways, alive, self._own)

    def _list_gateways(self) -> list[InferenceGateway]:
        return self._store.list(InferenceGateway).items

    def _write_gateways(self, gateways: list[InferenceGateway], alive: dict[str, bool], own: str) -> None:
        for g in gateways:
            if g.metadata.deletion_timestamp:
                continue
            held_by = holder(g)
            if not should_claim(g, own=own, holder_alive=alive.get(held_by, True) if held_by else True):
                continue
            self._put_gateway_status(g, held_status(g, own=own))

    def _release_gateways(self, own: str) -> None:
        for g in self._list_gateways():
            if holder(g) == own:
                self._put_gateway_status(g, released_status(g, own=own))

    def _put_gateway_status(self, gateway: InferenceGateway, desired: Any) -> None:
        if desired.wire() == gateway.status.wire():
            return
        try:
            self._store.update_status(gateway.model_copy(update={"status": desired}))
        except StoreError as exc:  # another gateway wrote first: the next tick looks again
            log.debug("status of inferencegateway %s not written: %s", gateway.name, exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gateway could not write service statuses; will try again")

    def _live(self, identities: set[str], known: dict[str, bool]) -> frozenset[str]:
        """The gateways among `identities` that heartbeat now; `known` caches the answers of
        one pass, so each gateway's lease is read once per tick, not once per service."""
        now = self._clock()
        for identity in identities - known.keys():
            lease = self._store.get_lease(heartbeat.lease_name(identity))
            known[identity] = heartbeat.alive(lease, identity=identity, now=now)
        return frozenset(i for i in identities if known[i])

    def _write_all(self, work: list[tuple[ServiceRoute, ServiceSummary | None, str, dict[str, int]]]) -> None:
        known: dict[str, bool] = {}
        for route, summary, address, concurrency in work:
            try:
                current = self._store.get(ModelService, route.key)
                others = {t.gateway for t in current.status.traffic or [] if t.gateway != self._identity}
                live = self._live(others, known)
            except StoreError:
                continue
            desired = status_for(
                current.status, route, summary, address=address, identity=self._identity, window=self._window, live=live,
                concurrency=concurrency,
            )
            if desired.wire() == current.status.wire():
                continue
            try:
                self._store.update_status(current.model_copy(update={"status": desired}))
            except StoreError as exc:  # a concurrent write: the next tick tries again
                log.debug("status of %s not written: %s", route.key, exc)
