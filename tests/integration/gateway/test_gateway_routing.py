"""Weights, balancing, tiers, break-glass and the data boundary, observed through real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import httpx
from gateway_harness import Fleet, endpoint, service

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}


def _hits(fleet: Fleet, n: int, path: str = "/ml/svc/v1/chat/completions") -> Counter[str]:
    with httpx.Client(base_url=fleet.address) as c:
        out: Counter[str] = Counter()
        for _ in range(n):
            r = c.post(path, json=BODY)
            assert r.status_code == 200, r.text
            out[r.headers["x-laneway-endpoint"]] += 1
        return out


def test_entry_weights_split_traffic_evenly_over_ready_endpoints(fleet: Fleet) -> None:
    a1, a2, b = fleet.upstream("a1"), fleet.upstream("a2"), fleet.upstream("b")
    fleet.put(
        endpoint("a1", a1.url, labels={"app": "a"}),
        endpoint("a2", a2.url, labels={"app": "a"}),
        endpoint("b", b.url, labels={"app": "b"}),
        service("svc", [
            {"weight": 3, "selector": {"matchLabels": {"app": "a"}}},
            {"weight": 1, "selector": {"matchLabels": {"app": "b"}}},
        ]),
    )
    hits = _hits(fleet, 400)
    # Entry a holds 75% spread over two endpoints; entry b 25% with one.
    assert 0.67 <= (hits["a1"] + hits["a2"]) / 400 <= 0.83
    assert abs(hits["a1"] - hits["a2"]) < 80
    status = fleet.status("svc")
    shares = {e["name"]: e["weight"] for e in status["endpoints"]}
    assert shares == {"a1": 0.375, "a2": 0.375, "b": 0.25}

    # An endpoint that is not ready drops out; its entry keeps its share (Modelplane's rule).
    fleet.put(endpoint("a2", a2.url, labels={"app": "a"}), ready=False)
    hits = _hits(fleet, 200)
    assert hits["a2"] == 0 and 0.62 <= hits["a1"] / 200 <= 0.88
    assert {"name": "a2", "reason": "not ready (status.ready is false)"} in fleet.status("svc")["excluded"]


def test_least_outstanding_prefers_the_idle_endpoint(fleet: Fleet) -> None:
    slow, fast = fleet.upstream("slow", delay=0.6), fleet.upstream("fast")
    fleet.put(endpoint("slow", slow.url), endpoint("fast", fast.url), service("svc", [{"selector": {"matchLabels": {"app": "m"}}}]))

    async def go() -> Counter[str]:
        async with aiohttp.ClientSession() as s:
            async def one() -> str:
                async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY) as r:
                    await r.read()
                    return r.headers["x-laneway-endpoint"]

            tasks = []
            for _ in range(30):
                tasks.append(asyncio.create_task(one()))
                await asyncio.sleep(0.01)
            return Counter(await asyncio.gather(*tasks))

    hits = fleet.loop.call(go())
    assert hits["slow"] <= 5, hits


def test_break_glass_only_when_switched_on(fleet: Fleet) -> None:
    p, bg = fleet.upstream("p"), fleet.upstream("bg")
    entries = [
        {"selector": {"matchLabels": {"app": "p"}}},
        {"selector": {"matchLabels": {"app": "bg"}}, "tier": "BreakGlass"},
    ]
    fleet.put(endpoint("p", p.url, labels={"app": "p"}), endpoint("bg", bg.url, labels={"app": "bg"}), service("svc", entries))
    assert set(_hits(fleet, 20)) == {"p"}
    fleet.put(service("svc", entries, breakGlass=True))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.headers["x-laneway-endpoint"] == "bg" and r.headers["x-laneway-tier"] == "BreakGlass"
    assert set(_hits(fleet, 10)) == {"bg"}
    fleet.put(service("svc", entries, breakGlass=False))
    assert set(_hits(fleet, 10)) == {"p"}
    assert fleet.status("svc")["traffic"][0]["requests"] == {"BreakGlass": 11, "Primary": 30}


def test_break_glass_as_last_resort_when_allowed(fleet: Fleet) -> None:
    bg = fleet.upstream("bg")
    entries = [
        {"selector": {"matchLabels": {"app": "p"}}},
        {"selector": {"matchLabels": {"app": "bg"}}, "tier": "BreakGlass"},
    ]
    fleet.put(endpoint("p", "http://127.0.0.1:9", labels={"app": "p"}), ready=False)
    fleet.put(endpoint("bg", bg.url, labels={"app": "bg"}), service("svc", entries))
    assert httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY).status_code == 503
    fleet.put(service("svc", entries, allowBreakGlassFallback=True))
    assert _hits(fleet, 3) == {"bg": 3}


def test_data_boundary_holds_when_the_only_other_endpoint_is_outside(fleet: Fleet) -> None:
    eu, us = fleet.upstream("eu"), fleet.upstream("us")
    # written by the platform lane, so their region labels are what the boundary reads
    fleet.put(endpoint("eu", eu.url, labels={"app": "m", "region": "eu"}, written_by="platform"), ready=False)
    fleet.put(
        endpoint("us", us.url, labels={"app": "m", "region": "us"}, written_by="platform"),
        service(
            "svc",
            [{"selector": {"matchLabels": {"app": "m"}}}, {"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}],
            dataBoundary={"matchLabels": {"region": "eu"}},
            allowBreakGlassFallback=True,
        ),
    )
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.status_code == 503
    assert "no ready endpoint inside the data boundary" in r.json()["error"]["message"]
    assert us.received == []
    excluded = {e["name"]: e["reason"] for e in fleet.status("svc")["excluded"]}
    assert excluded["us"] == "outside the data boundary (labels do not satisfy region=eu)"
    # Once the eu endpoint is ready it serves, and us still never does.
    fleet.put(endpoint("eu", eu.url, labels={"app": "m", "region": "eu"}, written_by="platform"), ready=True)
    assert set(_hits(fleet, 10)) == {"eu"}


def test_unknown_service_and_model_are_openai_style_404s(fleet: Fleet) -> None:
    r = httpx.post(f"{fleet.address}/ml/nope/v1/chat/completions", json=BODY)
    assert r.status_code == 404 and r.json()["error"]["code"] == "service_not_found"
    r = httpx.post(f"{fleet.address}/v1/chat/completions", json={"model": "ghost"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = httpx.post(f"{fleet.address}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
