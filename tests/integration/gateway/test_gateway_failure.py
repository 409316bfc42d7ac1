"""Retries, passive health, overflow, client disconnects and fast refusals."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import httpx
from gateway_harness import Fleet, endpoint, service

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now: connections are refused
    return f"http://127.0.0.1:{port}"


def test_dead_endpoint_is_retried_invisibly_then_ejected(fleet: Fleet) -> None:
    ok = fleet.upstream("ok")
    fleet.put(endpoint("dead", _dead_url()), endpoint("ok", ok.url), service("svc", [ALL]))
    with httpx.Client(base_url=fleet.address) as c:
        for _ in range(20):
            r = c.post("/ml/svc/v1/chat/completions", json=BODY)
            assert r.status_code == 200 and r.headers["x-laneway-endpoint"] == "ok"
    st = fleet.gateway.proxy.states
    dead = next(s for k, s in st.items() if k.name == "dead")
    assert dead.ejected and dead.total_requests <= 4  # ejected after 3 failures (plus at most one probe)


def test_failing_endpoint_is_ejected_and_returns_after_a_probe(fleet: Fleet) -> None:
    bad, good = fleet.upstream("bad", mode="fail"), fleet.upstream("good")
    fleet.put(endpoint("bad", bad.url), endpoint("good", good.url), service("svc", [ALL]))
    with httpx.Client(base_url=fleet.address) as c:
        for _ in range(30):
            assert c.post("/ml/svc/v1/chat/completions", json=BODY).status_code == 200
        assert len(bad.received) == 3  # three failures in a row, then ejected
        bad.mode = "ok"
        time.sleep(0.35)  # past the ejection time: the next request may probe it
        hits = [c.post("/ml/svc/v1/chat/completions", json=BODY).headers["x-laneway-endpoint"] for _ in range(40)]
    assert hits.count("bad") >= 5, hits


def test_last_upstream_error_passes_through_when_nothing_else_can_answer(fleet: Fleet) -> None:
    bad = fleet.upstream("bad", mode="fail")
    fleet.put(endpoint("bad", bad.url), service("svc", [ALL]))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.status_code == 500 and r.headers["x-laneway-endpoint"] == "bad"


def test_overflow_takes_traffic_on_saturation(fleet: Fleet) -> None:
    slow, over = fleet.upstream("slow", delay=0.5), fleet.upstream("over")
    fleet.put(
        endpoint("slow", slow.url, labels={"app": "p"}, maxInFlight=1),
        endpoint("over", over.url, labels={"app": "o"}),
        service("svc", [{"selector": {"matchLabels": {"app": "p"}}}, {"selector": {"matchLabels": {"app": "o"}}, "tier": "Overflow"}]),
    )

    async def go() -> list[tuple[str, str]]:
        async with aiohttp.ClientSession() as s:
            async def one(delay: float) -> tuple[str, str]:
                await asyncio.sleep(delay)
                async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY) as r:
                    await r.read()
                    return r.headers["x-laneway-endpoint"], r.headers["x-laneway-tier"]

            return list(await asyncio.gather(one(0), one(0.1)))

    assert fleet.loop.call(go()) == [("slow", "Primary"), ("over", "Overflow")]


def test_overflow_takes_traffic_on_outage_and_queue_timeout(fleet: Fleet) -> None:
    hang, over = fleet.upstream("hang", mode="hang"), fleet.upstream("over")
    entries = [{"selector": {"matchLabels": {"app": "p"}}}, {"selector": {"matchLabels": {"app": "o"}}, "tier": "Overflow"}]
    fleet.put(
        endpoint("hang", hang.url, labels={"app": "p"}),
        endpoint("over", over.url, labels={"app": "o"}),
        service("svc", entries, queueTimeout="200ms"),
    )
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, timeout=5)
    assert (r.status_code, r.headers["x-laneway-tier"]) == (200, "Overflow")
    # Outage: the primary is not ready at all.
    fleet.put(endpoint("hang", hang.url, labels={"app": "p"}), ready=False)
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, timeout=5)
    assert (r.status_code, r.headers["x-laneway-endpoint"]) == (200, "over")


def test_saturated_without_overflow_is_a_fast_503(fleet: Fleet) -> None:
    slow = fleet.upstream("slow", delay=1.0)
    fleet.put(endpoint("slow", slow.url, maxInFlight=1), service("svc", [ALL], queueTimeout="100ms"))

    async def go() -> list[int]:
        async with aiohttp.ClientSession() as s:
            async def one(delay: float) -> int:
                await asyncio.sleep(delay)
                async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY) as r:
                    body = await r.json()
                    if r.status == 503:
                        assert body["error"]["code"] == "saturated"
                    return r.status

            return list(await asyncio.gather(one(0), one(0.1)))

    assert fleet.loop.call(go()) == [200, 503]


def test_no_endpoint_answers_503_without_waiting(fleet: Fleet) -> None:
    fleet.put(service("svc", [ALL]))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, timeout=2)
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "service_unavailable"


def test_client_disconnect_cancels_the_upstream(fleet: Fleet) -> None:
    slow = fleet.upstream("slow", mode="hang")
    fleet.put(endpoint("slow", slow.url), service("svc", [ALL]))

    async def go() -> None:
        async with aiohttp.ClientSession() as s:
            try:
                async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, timeout=aiohttp.ClientTimeout(total=0.3)):
                    pass
            except TimeoutError:
                pass
        for _ in range(200):
            if slow.cancelled:
                return
            await asyncio.sleep(0.01)

    fleet.loop.call(go())
    assert slow.cancelled == 1 and slow.in_flight == 0
    assert all(s.in_flight == 0 for s in fleet.gateway.proxy.states.values())
