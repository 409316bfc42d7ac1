"""Fair sharing, priorities and saturation signals through a real gateway over HTTP.

One caller floods a saturated service while ten send steadily: the ten are served in fair
order (Jain's index over their throughput at least 0.95, and they wait less than the flood);
Sheddable keys are refused with 429 while Standard ones queue; a caller cannot raise its own
priority with a header (the attack); an upstream's 429 counts as that endpoint being full, and
a predicted time to first token past the SLO sends requests to Overflow at once."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from aiohttp import web
from gateway_harness import NS, Fleet, endpoint, secret, service

from laneway.api.kinds.secret import Secret
from laneway.api.labels import PRIORITY_ANNOTATION
from laneway.api.meta import ObjectKey

STEADY = [f"sk-steady-{i}" for i in range(10)]
FLOOD = "sk-flood"
CHEAP = "sk-cheap"


def jain(xs: list[float]) -> float:
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def annotated(name: str, data: dict[str, str], notes: dict[str, str]) -> Secret:
    s = secret(name, data)
    return s.model_copy(update={"metadata": s.metadata.model_copy(update={"annotations": notes})})


def ask(c: httpx.Client, key: str, **headers: str) -> httpx.Response:
    return c.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}", **headers},
                  json={"model": "svc", "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]})


def saturated_service(fleet: Fleet) -> None:
    slow = fleet.upstream("slow", delay=0.05)
    keys = {f"k{i}": k for i, k in enumerate([FLOOD, *STEADY])}
    fleet.put(
        secret("callers", keys),
        annotated("cheap", {"k": CHEAP}, {PRIORITY_ANNOTATION: "Sheddable"}),
        endpoint("slow", slow.url, maxInFlight=2),
        service("svc", [{"selector": {"matchLabels": {"app": "m"}}}], queueTimeout="60s",
                apiKeys=[*({"name": "callers", "key": k} for k in keys), {"name": "cheap", "key": "k"}]),
    )


def test_steady_callers_get_a_fair_share_while_one_floods_and_sheddable_goes_first(fleet: Fleet) -> None:
    saturated_service(fleet)
    stop = threading.Event()
    flood_latency: list[float] = []
    shed: dict[str, int] = {}

    def flood() -> None:
        with httpx.Client(base_url=fleet.address, timeout=120) as c:
            while not stop.is_set():
                t0 = time.monotonic()
                assert ask(c, FLOOD).status_code == 200
                flood_latency.append(time.monotonic() - t0)

    def steady(key: str) -> tuple[float, list[float]]:
        latencies: list[float] = []
        with httpx.Client(base_url=fleet.address, timeout=120) as c:
            t0 = time.monotonic()
            for _ in range(6):
                s = time.monotonic()
                assert ask(c, key).status_code == 200
                latencies.append(time.monotonic() - s)
            return 6 / (time.monotonic() - t0), latencies

    with ThreadPoolExecutor(max_workers=40) as pool:
        floods = [pool.submit(flood) for _ in range(24)]
        deadline = time.monotonic() + 60
        while fleet.gateway.proxy.queues.waiting(ObjectKey(NS, "svc")) < 10:
            assert time.monotonic() < deadline, "the flood never saturated the service"
            time.sleep(0.02)
        # Saturated: Sheddable is refused at once, and a header cannot make it Critical (the attack).
        with httpx.Client(base_url=fleet.address, timeout=60) as c:
            for headers in ({}, {"x-laneway-priority": "Critical"}, {"x-laneway-priority": "Standard"}):
                r = ask(c, CHEAP, **headers)
                shed[str(headers)] = r.status_code
                assert r.status_code == 429 and r.json()["error"]["code"] == "shed", r.text
            # A Standard caller may lower itself: then it is shed too.
            assert ask(c, STEADY[0], **{"x-laneway-priority": "Sheddable"}).status_code == 429
        results = list(pool.map(steady, STEADY))
        stop.set()
        for f in floods:
            f.result(timeout=120)

    rates = [r for r, _ in results]
    assert jain(rates) >= 0.95, rates
    steady_median = statistics.median(lat for _, lats in results for lat in lats)
    assert steady_median < statistics.median(flood_latency), (steady_median, statistics.median(flood_latency))


def throttling_app(hits: list[str]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if request.path in ("/metrics", "/kv_events"):
            return web.Response(status=404)
        hits.append(request.path)
        return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "30"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def test_an_upstream_429_counts_as_saturation_and_sends_traffic_to_overflow(fleet: Fleet) -> None:
    hits: list[str] = []
    busy = fleet.serve_app(throttling_app(hits))
    spare = fleet.upstream("spare")
    fleet.put(
        endpoint("busy", busy, labels={"app": "p"}),
        endpoint("spare", spare.url, labels={"app": "o"}),
        service("svc", [{"selector": {"matchLabels": {"app": "p"}}},
                        {"tier": "Overflow", "selector": {"matchLabels": {"app": "o"}}}]),
    )
    with httpx.Client(base_url=fleet.address, timeout=30) as c:
        first = c.post("/ml/svc/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert first.status_code == 200 and first.headers["x-laneway-tier"] == "Overflow"
        for _ in range(5):
            r = c.post("/ml/svc/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 200 and r.headers["x-laneway-tier"] == "Overflow"
    assert len(hits) == 1, "a throttled endpoint is not asked again inside its Retry-After"
    state = fleet.gateway.proxy.states[next(k for k in fleet.gateway.proxy.states if k.name == "busy")]
    assert state.consecutive_failures == 0 and not state.ejected, "429 is saturation, not failure"


def queueing_engine(waiting: int) -> web.Application:
    """An engine that answers at once but reports a long waiting queue in vLLM's metrics."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=f'vllm:num_requests_waiting{{model_name="m"}} {waiting}\n'
                                 'vllm:num_requests_running{model_name="m"} 8\n')

    async def chat(request: web.Request) -> web.Response:
        return web.json_response({"id": "x", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "queued"}, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def test_a_predicted_ttft_past_the_slo_overflows_at_once(fleet: Fleet) -> None:
    primary = fleet.serve_app(queueing_engine(waiting=500))
    spare = fleet.upstream("spare")
    fleet.put(
        endpoint("primary", primary, labels={"app": "p"}),
        endpoint("spare", spare.url, labels={"app": "o"}),
        service("svc", [{"selector": {"matchLabels": {"app": "p"}}},
                        {"tier": "Overflow", "selector": {"matchLabels": {"app": "o"}}}],
                slo={"p95TimeToFirstToken": "500ms"}),
    )
    key = ObjectKey(NS, "primary")
    deadline = time.monotonic() + 30
    while fleet.gateway.proxy.states.get(key) is None or fleet.gateway.proxy.states[key].load is None:
        assert time.monotonic() < deadline, "the gateway never scraped the engine's load"
        time.sleep(0.05)
    tiers = []
    with httpx.Client(base_url=fleet.address, timeout=30) as c:
        for _ in range(20):
            r = c.post("/ml/svc/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 200
            tiers.append(r.headers["x-laneway-tier"])
    # The first answers teach the gateway the engine's service rate; then 500 waiting at that
    # rate is far past 500 ms, so the rest go to Overflow while Primary is healthy and not full.
    assert tiers[0] == "Primary" and tiers[-5:] == ["Overflow"] * 5, tiers
