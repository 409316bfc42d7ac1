"""Table swaps do not drop requests in flight; nothing is retried once a body has started."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from gateway_harness import Fleet, endpoint, service

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def test_a_request_in_flight_finishes_while_the_table_changes(fleet: Fleet) -> None:
    slow, other = fleet.upstream("slow", delay=0.5), fleet.upstream("other")
    fleet.put(endpoint("slow", slow.url), service("svc", [ALL]))

    async def go() -> tuple[int, str]:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY) as r:
                return r.status, (await r.json())["choices"][0]["message"]["content"]

    future = asyncio.run_coroutine_threadsafe(go(), fleet.loop.loop)
    while not slow.in_flight:
        pass
    # While it waits: the endpoint is replaced and the service edited (several table swaps).
    fleet.put(endpoint("other", other.url, labels={"app": "n"}), service("svc", [{"selector": {"matchLabels": {"app": "n"}}}]))
    fleet.delete("ModelEndpoint", "slow")
    assert future.result(10) == (200, "slow")


def test_nothing_is_retried_once_the_body_has_started(fleet: Fleet) -> None:
    calls: list[str] = []

    async def breaks_mid_stream(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n')
        assert request.transport is not None
        request.transport.close()  # the upstream dies mid-answer
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", breaks_mid_stream)
    first, second = fleet.serve_app(app), fleet.serve_app(app)
    fleet.put(endpoint("a", first), endpoint("b", second), service("svc", [ALL]))

    async def go() -> tuple[int, bytes, bool]:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{fleet.address}/ml/svc/v1/chat/completions", json={**BODY, "stream": True}) as r:
                got = b""
                try:
                    async for chunk in r.content.iter_any():
                        got += chunk
                    return r.status, got, True
                except aiohttp.ClientPayloadError:
                    return r.status, got, False

    status, got, complete = fleet.loop.call(go())
    assert status == 200 and got.startswith(b"data: ") and not complete  # an incomplete stream, not a short one
    assert len(calls) == 1  # never retried on the other endpoint


def test_engine_paths_below_the_service_prefix_reach_the_endpoint(fleet: Fleet) -> None:
    up = fleet.upstream("up")
    fleet.put(endpoint("up", up.url, rewritePath="/engine"), service("svc", [ALL]))

    async def go() -> list[int]:
        async with aiohttp.ClientSession() as s:
            out = []
            for path in ("/health", "/metrics", "/v1/messages"):
                async with s.request("GET" if path != "/v1/messages" else "POST", f"{fleet.address}/ml/svc{path}", json=None if path != "/v1/messages" else BODY) as r:
                    out.append(r.status)
            return out

    assert fleet.loop.call(go()) == [200, 200, 200]
    assert [r["path"] for r in up.received] == ["/engine/health", "/engine/metrics", "/engine/v1/messages"]
