"""A stopping gateway stops accepting, lets requests in flight finish (a long stream
included), and refuses a new request on a kept-alive connection with `Connection: close`."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from aiohttp import web
from gateway_harness import Fleet, endpoint, service


def _slow_stream_app() -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(10):
            await resp.write(f"data: {json.dumps({'i': i})}\n\n".encode())
            await asyncio.sleep(0.1)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def test_stop_finishes_a_stream_in_flight_and_accepts_nothing_new(fleet: Fleet) -> None:
    url = fleet.serve_app(_slow_stream_app())
    fleet.put(endpoint("slow", url), service("svc", [{"selector": {"matchLabels": {"app": "m"}}}]))
    address = fleet.address

    async def scenario() -> tuple[bytes, float, int | str]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{address}/ml/svc/v1/chat/completions", json={"model": "svc", "stream": True}) as resp:
                first = await resp.content.readline()
                began = time.monotonic()
                stopping = asyncio.create_task(fleet.gateway.stop())
                body = first + await resp.content.read()
            await stopping
            took = time.monotonic() - began
            after: int | str
            try:
                async with aiohttp.ClientSession() as fresh, \
                        fresh.post(f"{address}/ml/svc/v1/chat/completions", json={"model": "svc"}) as again:
                    after = again.status
            except aiohttp.ClientConnectionError as e:
                after = type(e).__name__
            return body, took, after

    body, took, after = fleet.loop.call(scenario(), timeout=30)
    assert body.endswith(b"data: [DONE]\n\n"), "the stream in flight ran to its end"
    assert after != 200, "nothing new is accepted once stopping"
    print(f"stop with one stream in flight took {took:.2f}s")
