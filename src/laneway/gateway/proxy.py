"""The hot path: one request in, one upstream chosen (and maybe retried), the response out.

Order of work for a request: route (path or model name) and key check, rate limit, then the
attempt loop. Each attempt picks an endpoint (tiers in the service's order; within a tier, the
service's balancing policy, see `policy`), sends the request, and waits for the response
headers. The request's life is an `attempt.Exchange`, each try an `attempt.Attempt`. A connection
failure or a retryable status (429, 5xx) before any body byte is retried on an endpoint this
request has not tried, while the per-request attempt cap and the gateway's retry budget allow;
when there is nothing left to try, the last upstream error is passed through as it is.
Once the body starts, bytes are forwarded as they arrive and nothing is retried. A request that
finds its service saturated waits in that service's fair queue (`fair_queue`: weighted by
tokens per caller, Critical first, Sheddable refused with 429); an upstream's 429 marks that
endpoint saturated for its Retry-After; a predicted time to first token past the service's SLO
skips the Primary tier (`slo`). A client that
goes away closes the upstream connection, which is how an engine learns to stop generating.

Kept lean on purpose: no per-request allocation beyond what the request needs, header
filtering by set lookup, metrics series cached per label set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from laneway.api.kinds.serving import Tier
from laneway.api.meta import ObjectKey
from laneway.autoscale.gauges import DemandCollector, ServiceDemand
from laneway.autoscale.hold import ColdStartHold
from laneway.egress.aio import EgressSessions
from laneway.gateway.attempt import Attempt, Caller, Exchange
from laneway.gateway.balancer import Unavailable
from laneway.gateway.config import GatewayConfig
from laneway.gateway.deadlines import Deadlines
from laneway.gateway.errors import GatewayError, error_response
from laneway.gateway.fair_queue import RANK, ServiceQueues, lower, token_cost
from laneway.gateway.health import EndpointState
from laneway.gateway.keys import ANONYMOUS, Grant, presented_key
from laneway.gateway.limits import Limits, ProcessLimits, RateLimiter, RetryBudget
from laneway.gateway.load import fresh
from laneway.gateway.metering import Meter
from laneway.gateway.paths import check_path, split_target, upstream_url
from laneway.gateway.platform_auth import PlatformTokens
from laneway.gateway.policy import BalancingPolicy
from laneway.gateway.request_view import RequestView
from laneway.gateway.routing import Routed, route_by_model, route_prefixed, visible_models
from laneway.gateway.slo import predict_ttft
from laneway.gateway.stream_errors import is_anthropic_path, stream_error_event
from laneway.gateway.table import RoutingTable, ServiceRoute
from laneway.gateway.usage import SSEUsageScanner, Usage, body_asking_usage, usage_from_body
from laneway.gateway.weights import Target
from laneway.redact import redact_text

log = logging.getLogger(__name__)

_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade", "host", "content-length"}
)
_CALLER_ONLY = _HOP | {"authorization", "x-api-key", "accept-encoding", "cookie"}
_RESPONSE_DROP = _HOP | {"content-length"}
_CALLER_ONLY_NAMES = tuple(sorted(_CALLER_ONLY))
_RESPONSE_DROP_NAMES = tuple(sorted(_RESPONSE_DROP))
RETRYABLE = frozenset({429, 500, 502, 503, 504})
_BUFFER_LIMIT = 1 << 20
PRIORITY_HEADER = "x-laneway-priority"
"""A caller may send this to run its request at a lower priority class than its key grants."""
MAX_THROTTLE_SECONDS = 30.0
"""Longest an upstream's 429 (its Retry-After) keeps an endpoint counted as saturated."""


class Proxy:
    """State of the data plane in one gateway process: the table and the live endpoint state."""

    def __init__(
        self,
        *,
        config: GatewayConfig,
        platform: PlatformTokens | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """`platform` checks the tokens `/metrics` needs; without it `/metrics` is refused."""
        self.config = config
        self.platform = platform
        self.clock = clock
        self.rng = rng or random.Random()
        self.table = RoutingTable()
        self.states: dict[ObjectKey, EndpointState] = {}
        self.policies: dict[ObjectKey, BalancingPolicy] = {}
        """One balancing policy instance per service, kept across table swaps (it may learn)."""
        self.meter = Meter(clock=clock, window=config.latency_window, max_samples=config.max_samples)
        self.limiter: Limits = ProcessLimits(RateLimiter(clock=clock))
        """Rate limits: in this process, or shared through the store (`shared_limits`)."""
        self.budget = RetryBudget(
            clock=clock, ratio=config.retry_budget_ratio, minimum=config.retry_budget_min, window=config.retry_budget_window
        )
        self.session: aiohttp.ClientSession | None = None
        self.queues = ServiceQueues()
        """Requests waiting for a slot of a saturated service, in fair order (`fair_queue`)."""
        # Demand per service for the autoscaler, and the waiting room for scale from zero.
        self.demand = ServiceDemand()
        self.meter.registry.register(DemandCollector(self.demand))
        self.cold_start = ColdStartHold(timeout=config.cold_start_timeout)
        self.deadlines = Deadlines(resolution=max(0.01, min(1.0, config.headers_timeout / 10)), clock=clock)
        # Team-written URLs connect only through the egress policy (laneway.egress.aio).
        self.egress = EgressSessions(connect_timeout=config.connect_timeout)
        self.active = 0
        """Requests being handled now (any path); what a stopping gateway waits for."""
        self.stopping = False
        """Set when the gateway stops: a request arriving on a kept-alive connection is refused
        (503, `Connection: close`) instead of started, so the requests in flight can drain."""

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            # Shared by every caller: a cookie one upstream sets is never kept for the next
            # request (and no jar is searched per request).
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self.deadlines.start()

    async def close(self) -> None:
        await self.limiter.close()
        await self.deadlines.stop()
        await self.egress.close()
        if self.session is not None:
            await self.session.close()
            self.session = None

    def session_for(self, target: Target) -> aiohttp.ClientSession:
        """Where a connection to `target` goes from: a URL the team lane wrote only through the
        egress policy of the current table (`laneway.egress.aio`), laneway's own engines directly."""
        assert self.session is not None, "Proxy.start() was not awaited"
        return self.egress.session(self.table.egress) if target.guarded else self.session

    def swap(self, table: RoutingTable) -> None:
        """Replace the routing table in one assignment; requests in flight keep the old one."""
        self.table = table
        self.cold_start.notify()
        live = {t.key for r in table.services.values() for entries in r.tiers.values() for e in entries for t in e.targets}
        for key in [k for k, st in self.states.items() if k not in live and st.in_flight == 0]:
            del self.states[key]
        for key in [k for k, p in self.policies.items() if (r := table.services.get(k)) is None or type(p) is not r.policy]:
            del self.policies[key]
        self.queues.forget_idle(set(table.services))

    def policy_for(self, route: ServiceRoute) -> BalancingPolicy:
        """The service's balancing policy instance: made on first use, replaced when the
        service names another policy, dropped with the service (see `swap`)."""
        policy = self.policies.get(route.key)
        if policy is None or type(policy) is not route.policy:
            policy = self.policies[route.key] = route.policy()
        return policy

    # ---- entry point ---------------------------------------------------------------------

    async def drained(self, timeout: float) -> int:
        """Wait until no request is being handled, at most `timeout` seconds; returns how many
        still are (0 when drained). A stopping gateway calls it once it stopped accepting."""
        end = time.monotonic() + timeout
        while self.active and time.monotonic() < end:
            await asyncio.sleep(0.05)
        return self.active

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.stopping:
            refused = error_response(GatewayError(503, "The gateway is shutting down; retry on another gateway or in a moment.",
                                                  "shutting_down", {"Retry-After": "1"}))
            refused.force_close()
            return refused
        self.active += 1
        try:
            return await self._handle(request)
        finally:
            self.active -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = split_target(request.raw_path)[0]
        if raw_path in ("/healthz", "/readyz"):
            return web.Response(text="ok")
        started = self.clock()
        table = self.table
        route_key: ObjectKey | None = None
        try:
            if raw_path == "/metrics" and request.method == "GET":
                return await self._metrics(request)
            if request.method == "GET" and (raw_path == "/v1/models" or raw_path.startswith("/v1/models/")):
                # Answered here, never forwarded: OpenAI's client encodes a model id's '/' as %2F.
                check_path(raw_path, allow_encoded_slash=True)
                grant = table.keys.identify(presented_key(request.headers.get("Authorization"), request.headers.get("x-api-key")))
                return self._models(table, grant, raw_path)
            path = check_path(raw_path)
            grant = table.keys.identify(presented_key(request.headers.get("Authorization"), request.headers.get("x-api-key")))
            body = await self._read_body(request, table)
            payload = _json_payload(request, body)
            if path.startswith("/v1/"):
                routed = route_by_model(table, path, payload, grant)
            else:
                routed = route_prefixed(table, path, grant)
            route_key = routed.route.key
            if routed.route.retired:
                raise GatewayError(410, routed.route.retired, "service_retired")
            admission = await self.limiter.admit((route_key, routed.key_id), routed.route.rate_limit)
            if not admission.allowed:
                raise GatewayError(
                    429,
                    f"Rate limit reached for service {route_key}: {admission.reason}. Retry after {admission.retry_after}s.",
                    "rate_limit_exceeded",
                    {"Retry-After": str(admission.retry_after)},
                )
            with self.demand.serving(route_key):
                if not routed.route.routable():
                    routed = await self._await_cold_start(request, routed, payload, grant)
                self.budget.record_request()
                return await self._forward(request, routed, body, payload, started, caller=_caller(routed, grant, request))
        except GatewayError as err:
            self.meter.refused(route_key, err.status)
            response = error_response(err)
            if err.status == 408:
                response.force_close()  # the rest of a body that is late is not waited for
            return response

    # ---- pieces --------------------------------------------------------------------------

    async def _await_cold_start(self, request: web.Request, routed: Routed, payload: dict[str, Any] | None, grant: Grant | None) -> Routed:
        """A service with no routable endpoint: 503 at once, or, when it scales from zero, hold
        the request (bounded, see `autoscale.hold`) until a replica is ready, then route again."""
        key = routed.route.key
        if not routed.route.scale_from_zero:
            raise GatewayError(503, _no_endpoint_reason(routed.route), "no_endpoint")

        def routable() -> bool:
            route = self.table.services.get(key)
            return route is not None and route.routable()

        with self.demand.waiting(key):
            outcome = await self.cold_start.wait(key, routable, clock=self.clock)
        if not outcome.ready:
            raise GatewayError(503, outcome.message, "model_starting", {"Retry-After": "5"})
        table = self.table
        path = split_target(request.raw_path)[0]  # checked in `handle` already
        if path.startswith("/v1/"):
            return route_by_model(table, path, payload, grant)
        return route_prefixed(table, path, grant)

    async def _metrics(self, request: web.Request) -> web.Response:
        """Prometheus text, for platform and admin tokens only (see `platform_auth`)."""
        if self.platform is None:
            raise GatewayError(403, "/metrics is not served by this gateway (it has no token store to check against).", "forbidden")
        await self.platform.require(request.headers.get("Authorization"), what="/metrics")
        return web.Response(body=self.meter.exposition(), content_type="text/plain", charset="utf-8")

    def _models(self, table: RoutingTable, grant: Grant | None, path: str) -> web.Response:
        models = [
            {"id": name, "object": "model", "created": 0, "owned_by": key.namespace, "laneway_service": str(key)}
            for name, key in visible_models(table, grant)
        ]
        if path == "/v1/models":
            return web.json_response({"object": "list", "data": models})
        wanted = unquote(path[len("/v1/models/"):])
        for m in models:
            if m["id"] == wanted:
                return web.json_response(m)
        raise GatewayError(
            404, f"The model {wanted!r} does not exist or you do not have access to it. GET /v1/models lists the models you may call.",
            "model_not_found",
        )

    async def _read_body(self, request: web.Request, table: RoutingTable) -> bytes:
        if not request.body_exists:
            return b""
        limit = min(self.config.max_request_body_bytes, table.max_request_body_bytes or self.config.max_request_body_bytes)
        length = request.content_length  # parsed from the header on every access: read it once
        if length is not None and length > limit:
            raise GatewayError(413, f"Request body of {length} bytes exceeds the gateway's limit of {limit} bytes.", "body_too_large")
        timeout = table.client_body_timeout or self.config.client_body_timeout
        token = self.deadlines.arm(timeout)  # a slow body is cut off (see GatewayConfig.client_body_timeout)
        try:
            if length is not None:
                return await request.content.readexactly(length)
            body = bytearray()
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise GatewayError(413, f"Request body exceeds the gateway's limit of {limit} bytes.", "body_too_large")
            return bytes(body)
        except asyncio.CancelledError:
            if self.deadlines.expired(token):
                raise GatewayError(
                    408, f"The request body did not arrive within {timeout:g}s; send it at once, or in fewer, faster parts.",
                    "body_timeout",
                ) from None
            raise
        finally:
            self.deadlines.disarm(token)

    def _select(self, route: ServiceRoute, ex: Exchange) -> tuple[Target, Tier] | Unavailable:
        now = self.clock()
        saturated = False
        reason = ""
        fallback: tuple[Target, Tier] | None = None
        for tier in route.tier_order():
            if tier in ex.skip:
                continue
            entries = route.tiers.get(tier, ())
            if not entries:
                continue
            picked = ex.policy.choose(ex.view, entries, self.states, now=now, rng=self.rng, tried=ex.tried)
            if isinstance(picked, Unavailable):
                saturated = saturated or picked.saturated
                reason = reason or f"{tier}: {picked.reason}"
                continue
            if tier == "Primary" and route.has_overflow and route.slo_ttft is not None:
                late = self._predicted_late(picked, route.slo_ttft, now)
                if late is not None:
                    # The SLO would break here: the next tier now, Primary only if nothing else answers.
                    ex.last_error = late
                    fallback = fallback or (picked, tier)
                    continue
            return picked, tier
        if fallback is not None:
            return fallback
        return Unavailable(saturated, reason or "no ready endpoint")

    def _predicted_late(self, target: Target, slo: float, now: float) -> str | None:
        """Why `target` would answer its first token after the service's SLO, or None."""
        st = self.states.get(target.key)
        if st is None:
            return None
        load = fresh(st.load, now)
        if load is None:
            return None
        guess = predict_ttft(ahead=load.waiting or 0, rate=st.completions.per_second(now), floor=st.completions.floor_ttft(now))
        if guess is None or guess.seconds <= slo:
            return None
        return (f"endpoint {target.name} would answer in about {guess.seconds:.2f}s ({guess.ahead} waiting, "
                f"{guess.rate:.1f}/s served), past the {slo:g}s time-to-first-token SLO")

    def _fail_over(self, route: ServiceRoute, ex: Exchange, tier: Tier) -> None:
        """After a failed attempt on `tier`: give the tier up for this request when none of its
        endpoints is left that the request has not tried and that is trusted (no failure since
        its last success), and a later tier has entries; the next attempt then goes there. A
        tier whose endpoints all died together (a killed host, a restart) costs one attempt,
        not the request."""
        if not self._later_tier(route, tier):
            return
        now = self.clock()
        for entry in route.tiers.get(tier, ()):
            for t in entry.targets:
                if t.key in ex.tried:
                    continue
                st = self.states.get(t.key)
                if st is None or st.trusted(now):
                    return
        ex.skip.add(tier)

    @staticmethod
    def _later_tier(route: ServiceRoute, tier: Tier) -> bool:
        """Whether a tier after `tier` in the service's order has entries."""
        order = route.tier_order()
        return tier in order and any(route.tiers.get(t) for t in order[order.index(tier) + 1:])

    def _state(self, key: ObjectKey) -> EndpointState:
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = EndpointState()
        return st

    def endpoint_state(self, key: ObjectKey) -> EndpointState:
        """The live state of one endpoint, made when first asked (what `engine_watch` fills)."""
        return self._state(key)

    def _finish(self, attempt: Attempt) -> None:
        """Give the attempt's in-flight slot back, once, and wake the next request waiting for
        one in each saturated service's fair queue."""
        if attempt.phase == "Done":
            return
        attempt.phase = "Done"
        attempt.state.in_flight -= 1
        self.queues.wake()

    async def _wait_for_slot(self, route: ServiceRoute, ex: Exchange, timeout: float, *, kick: bool = False) -> None:
        """Wait in the service's fair queue until woken (a slot was given back) or `timeout`.
        `kick`: wake the queue's head at once, for a request that queued behind others while a
        slot may already be free."""
        caller = ex.caller or Caller(ANONYMOUS)
        queue = self.queues.queue(route.key)
        ticket = ex.ticket
        if ticket is None:
            cost = token_cost(len(ex.view.prompt.text), ex.view.max_tokens)
            ticket = ex.ticket = queue.push(caller.flow, cost=cost, weight=caller.weight, priority=caller.priority)
        else:
            ticket.woken.clear()
            queue.requeue(ticket)
        if kick:
            self.queues.wake_service(route.key)
        try:
            await asyncio.wait_for(ticket.woken.wait(), timeout)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if ticket.woken.is_set():
                self.queues.wake_service(route.key)  # the caller left with the wake-up: pass it on
            raise
        finally:
            queue.remove(ticket)

    async def _forward(
        self, request: web.Request, routed: Routed, body: bytes, payload: dict[str, Any] | None, started: float,
        *, caller: Caller | None = None,
    ) -> web.StreamResponse:
        assert self.session is not None, "Proxy.start() was not awaited"
        route = routed.route
        cfg = self.config
        headers = _without(request.headers, _CALLER_ONLY_NAMES)
        query = split_target(request.raw_path)[1]
        added_usage = False
        if payload is not None:
            asking = body_asking_usage(payload, routed.upstream_path, body)
            if asking is not None:
                body, added_usage = asking, True
        ex = Exchange(
            view=RequestView(
                service=route.key,
                model=_model_of(payload),
                path=routed.upstream_path,
                key_id=routed.key_id,
                payload=payload,
            ),
            policy=self.policy_for(route),
            queue_deadline=started + route.queue_timeout if route.queue_timeout else started,
            caller=caller,
        )
        head = self.queues.head_rank(route.key)
        if head is not None and caller is not None and RANK[caller.priority] >= head:
            # Others already wait for this service: no overtaking them, not even into a slot that
            # just freed; the queue decides who takes it.
            if caller.priority == "Sheddable":
                raise _shed(route)
            now = self.clock()
            if now < ex.queue_deadline:
                with self.demand.waiting(route.key):
                    await self._wait_for_slot(route, ex, ex.queue_deadline - now, kick=True)
        while True:
            picked = self._select(route, ex)
            if isinstance(picked, Unavailable):
                if ex.held is not None:
                    return await self._respond(request, routed, ex.held, started, added_usage)
                now = self.clock()
                if picked.saturated and caller is not None and caller.priority == "Sheddable":
                    raise _shed(route)
                if picked.saturated and now < ex.queue_deadline:
                    with self.demand.waiting(route.key):
                        await self._wait_for_slot(route, ex, ex.queue_deadline - now)
                    continue
                if picked.saturated:
                    msg = f"Service {route.key} is saturated: {picked.reason}" + (
                        " and no slot freed within its queueTimeout" if route.queue_timeout else ""
                    ) + "; add replicas, raise maxInFlight, or add an Overflow entry."
                    raise GatewayError(503, msg, "saturated", {"Retry-After": "1"})
                detail = f" (last error: {ex.last_error})" if ex.last_error else ""
                raise GatewayError(503, f"No endpoint of service {route.key} can answer: {picked.reason}{detail}.", "no_endpoint")
            target, tier = picked
            held = ex.held
            failover = ex.fails_over(tier)
            capped = ex.attempts > 0 and not failover and (ex.attempts >= cfg.max_attempts or not self.budget.try_retry())
            if capped and self._later_tier(route, tier):
                ex.skip.add(tier)  # no more tries on this tier, but the next one has not been tried
                continue
            if held is not None:
                # A better candidate exists: drop the failed response and try it.
                if capped:
                    return await self._respond(request, routed, held, started, added_usage)
                held.answered.release()
                self._finish(held)
                self.meter.attempt_failed(
                    route.key, endpoint=held.target.name, tier=held.tier, entry=held.target.entry, code=str(held.answered.status)
                )
                ex.held = None
            elif capped:
                raise GatewayError(
                    502, f"Upstream of service {route.key} failed after {ex.attempts} attempt(s): {ex.last_error}.", "upstream_failed"
                )
            attempt = ex.start(target, tier, self._state(target.key))
            st = attempt.state
            spill_on_timeout = tier == "Primary" and route.queue_timeout is not None and route.has_overflow
            wait = route.queue_timeout if spill_on_timeout and route.queue_timeout else cfg.headers_timeout
            try:
                up = await self._send(
                    request.method,
                    URL(upstream_url(target.base_url, routed.upstream_path, query), encoded=True),
                    _upstream_headers(headers, target),
                    _body_for(target, body, payload),
                    wait=wait,
                    precise=spill_on_timeout,
                    session=self.session_for(target),
                )
            except TimeoutError:
                self._finish(attempt)
                if spill_on_timeout:
                    ex.skip.add("Primary")
                    ex.last_error = f"endpoint {target.name} gave no response within the queueTimeout"
                else:
                    st.on_failure(self.clock(), cfg)
                    ex.last_error = f"endpoint {target.name} gave no response within {wait:g}s"
                    self.meter.attempt_failed(route.key, endpoint=target.name, tier=tier, entry=target.entry, code="timeout")
                    self._fail_over(route, ex, tier)
                continue
            except (aiohttp.ClientError, OSError) as exc:
                self._finish(attempt)
                st.on_failure(self.clock(), cfg, refused=_refused(exc))
                self._fail_over(route, ex, tier)
                # Callers read this: an endpoint URL's query or password (a provider key) stays out.
                ex.last_error = f"endpoint {target.name}: {type(exc).__name__}: {redact_text(str(exc))}"
                self.meter.attempt_failed(route.key, endpoint=target.name, tier=tier, entry=target.entry, code="connection")
                continue
            except BaseException:
                self._finish(attempt)
                raise
            if up.status in RETRYABLE:
                if up.status >= 500:
                    st.on_failure(self.clock(), cfg)
                else:  # 429: the endpoint is full, not failing (see `EndpointState.throttled_until`)
                    st.throttled_until = self.clock() + _retry_after(up.headers.get("Retry-After"))
                ex.last_error = f"endpoint {target.name} answered {up.status}"
                attempt.hold(up)
                ex.held = attempt
                if up.status >= 500:
                    self._fail_over(route, ex, tier)
                continue
            st.on_success()
            attempt.accept(up)
            return await self._respond(request, routed, attempt, started, added_usage)

    async def _send(
        self, method: str, url: URL, headers: CIMultiDict[str], data: bytes, *, wait: float, precise: bool,
        session: aiohttp.ClientSession,
    ) -> aiohttp.ClientResponse:
        """Send one attempt and wait at most `wait` seconds for its response headers
        (TimeoutError after). A `queueTimeout` spill needs the bound to the millisecond and gets
        its own timer; the long default bound uses the shared coarse `Deadlines` (see there)."""
        if precise:
            async with asyncio.timeout(wait):
                return await session.request(method, url, headers=headers, data=data, allow_redirects=False)
        token = self.deadlines.arm(wait)
        try:
            return await session.request(method, url, headers=headers, data=data, allow_redirects=False)
        except asyncio.CancelledError:
            if self.deadlines.expired(token):
                raise TimeoutError from None
            raise
        finally:
            self.deadlines.disarm(token)

    async def _respond(
        self,
        request: web.Request,
        routed: Routed,
        attempt: Attempt,
        started: float,
        added_usage: bool,
    ) -> web.StreamResponse:
        """Relay a `Held` or `Responding` attempt's answer to the caller, meter it, and finish it."""
        up = attempt.respond()
        target, tier, st = attempt.target, attempt.tier, attempt.state
        route = routed.route
        headers = _without(up.headers, _RESPONSE_DROP_NAMES)
        headers["x-laneway-endpoint"] = target.name
        headers["x-laneway-tier"] = tier
        usage = Usage()
        status = up.status
        ttft: float | None = None
        cut = False
        clean = False
        try:
            ctype = up.headers.get("Content-Type", "")
            length = up.content_length
            if "text/event-stream" not in ctype and length is not None and length <= _BUFFER_LIMIT:
                try:
                    body = await up.read()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    status = 502
                    st.on_failure(self.clock(), self.config)
                    raise GatewayError(
                        502, f"Endpoint {target.name} of service {route.key} broke off its response ({type(exc).__name__}).", "upstream_broken"
                    ) from None
                if "json" in ctype:
                    usage = usage_from_body(body)
                clean = True
                return web.Response(status=status, body=body, headers=headers)
            resp = web.StreamResponse(status=status, headers=headers)
            streamed = "text/event-stream" in ctype
            scanner = SSEUsageScanner(drop_usage_chunk=added_usage) if streamed else None
            await resp.prepare(request)
            first = streamed  # time to first token: streams only
            try:
                content = up.content
                last = b""
                async for chunk in content.iter_any():
                    if first:
                        ttft = self.clock() - started
                        first = False
                    if scanner is not None:
                        chunk = scanner.feed(chunk)
                    if content.at_eof():
                        # The upstream's end arrived with these bytes: send them and the
                        # terminating chunk in one write (one send, one wake-up of the caller).
                        # Nothing waits for it, so the stream stays unbuffered.
                        last = chunk
                        break
                    if chunk:
                        await resp.write(chunk)
                if scanner is not None:
                    last += scanner.flush()
                    usage = scanner.usage
                await resp.write_eof(last)
            except ConnectionResetError:
                status = 499  # the caller went away; closing `up` below stops the upstream
                return resp
            except (TimeoutError, aiohttp.ClientError) as exc:
                # The upstream broke mid-body: the status line is out. A stream gets an error
                # event in its own format (so an SDK raises instead of returning half an answer
                # as if complete); then the connection closes abruptly (no terminating chunk), so
                # a caller that reads no events still sees an incomplete response, not a short one.
                cut = True
                st.on_failure(self.clock(), self.config, refused=_refused(exc))
                log.warning("upstream %s broke mid-response for %s: %s", target.name, route.key, type(exc).__name__)
                if streamed:
                    event = stream_error_event(
                        anthropic=is_anthropic_path(routed.upstream_path),
                        message=f"The engine behind service {route.key} stopped in the middle of this answer "
                        f"({type(exc).__name__}); the answer is incomplete. Retry the request.",
                    )
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await resp.write(event)
                if request.transport is not None:
                    request.transport.close()
                return resp
            clean = True
            return resp
        finally:
            if clean:
                up.release()
            else:
                up.close()
                if status < 400 and not cut:
                    status = 499
            self._finish(attempt)
            total = self.clock() - started
            if status < 400:
                st.completions.record(self.clock(), ttft or total)
            self.meter.record(
                route.key,
                endpoint=target.name,
                tier=tier,
                status=status,
                ttft=ttft,
                total=total,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                entry=target.entry,
                cut=cut,
            )
            if usage.total:
                self.limiter.charge_tokens((route.key, routed.key_id), route.rate_limit, usage.total)


def _caller(routed: Routed, grant: Grant | None, request: web.Request) -> Caller:
    """How this request shares a saturated service: its key's grant when the key is what it is
    accounted to (a key the service did not grant counts as anonymous), the priority lowered if
    the caller asked (`PRIORITY_HEADER`), never raised."""
    asked = request.headers.get(PRIORITY_HEADER)
    if grant is not None and grant.key_id == routed.key_id:
        return Caller(grant.flow, grant.weight, lower(grant.priority, asked))
    return Caller(routed.key_id, 1.0, lower("Standard", asked))


def _shed(route: ServiceRoute) -> GatewayError:
    return GatewayError(
        429,
        f"Service {route.key} is saturated and this request is Sheddable (its key's laneway.dev/priority, or "
        f"{PRIORITY_HEADER}): it is refused first. Retry later, or ask the service's owners for a Standard key.",
        "shed",
        {"Retry-After": "1"},
    )


def _retry_after(value: str | None) -> float:
    """An upstream's Retry-After in seconds (1 when absent or a date), at most `MAX_THROTTLE_SECONDS`."""
    try:
        seconds = float(value) if value else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_THROTTLE_SECONDS)

def _refused(exc: BaseException) -> bool:
    """A connection refused: nothing listens at the address (the engine's process is gone)."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, aiohttp.ClientConnectorError):
        return isinstance(exc.os_error, ConnectionRefusedError)
    return False


def _model_of(payload: dict[str, Any] | None) -> str | None:
    model = payload.get("model") if payload is not None else None
    return model if isinstance(model, str) else None


def _json_payload(request: web.Request, body: bytes) -> dict[str, Any] | None:
    if not body or request.method not in ("POST", "PUT", "PATCH"):
        return None
    if "json" not in (request.content_type or "") and body.lstrip()[:1] != b"{":
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        raise GatewayError(400, "The request body is not valid JSON; send a JSON object.", "invalid_json") from None
    return doc if isinstance(doc, dict) else None


def _without(headers: CIMultiDictProxy[str], drop: tuple[str, ...]) -> CIMultiDict[str]:
    """A copy of `headers` less the names in `drop` (case-insensitively, every occurrence).

    Copying in C and deleting the few names present costs a third of filtering item by item
    in Python, and this runs twice per request."""
    out = headers.copy()
    for name in drop:
        if name in out:
            del out[name]
    return out


def _upstream_headers(headers: CIMultiDict[str], target: Target) -> CIMultiDict[str]:
    if target.bearer is None:
        return headers
    out = headers.copy()
    out["Authorization"] = f"Bearer {target.bearer}"
    return out


def _body_for(target: Target, body: bytes, payload: dict[str, Any] | None) -> bytes:
    if target.model is None or payload is None or payload.get("model") == target.model:
        return body
    return json.dumps({**payload, "model": target.model}).encode()


def _no_endpoint_reason(route: ServiceRoute) -> str:
    reasons = {e.reason.split(" (")[0] for e in route.excluded}
    if any(r.startswith("outside the data boundary") for r in reasons):
        lead = "no ready endpoint inside the data boundary"
    else:
        lead = "no ready endpoint"
    detail = "; ".join(f"{e.name}: {e.reason}" for e in route.excluded[:5])
    return (
        f"Service {route.key} has {lead}" + (f" ({detail})" if detail else "")
        + ". Check its endpoints with 'laneway describe ms " + route.key.name + f" -n {route.key.namespace}'."
    )
