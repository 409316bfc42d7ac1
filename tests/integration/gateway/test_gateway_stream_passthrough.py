"""Streams through the gateway stay unbuffered and exactly metered on OpenAI's real chunk shape.

The upstream here behaves like OpenAI's API once usage is asked for: every chunk carries
`"usage": null` and a last chunk with `choices: []` carries the counts.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from aiohttp import web
from gateway_harness import Fleet, endpoint, service

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}], "stream": True}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def _chunk(i: int, with_usage: bool) -> bytes:
    doc: dict[str, object] = {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}
    if with_usage:
        doc["usage"] = None
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


USAGE = b'data: {"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}\n\n'


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _metrics_once(fleet: Fleet, **want: float) -> str:
    """/metrics once every wanted series has its value (a request is metered just after its
    last byte is sent, so the caller can get there first); bounded at 5 s."""
    deadline = time.monotonic() + 5
    while True:
        text = fleet.metrics()
        if all(_metric(text, "laneway_gateway_tokens_total", kind=k, service="svc") == v for k, v in want.items()):
            return text
        if time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def _openai_like(*, gate: asyncio.Event | None = None, one_write: bool = False) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        events = [_chunk(i, usage) for i in range(3)] + ([USAGE] if usage else []) + [b"data: [DONE]\n\n"]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if one_write:
            await resp.write_eof(b"".join(events))  # the whole stream and its end in one segment
            return resp
        await resp.write(events[0])
        if gate is not None:
            await asyncio.wait_for(gate.wait(), 10)  # the rest only once the caller has the first
        for e in events[1:]:
            await resp.write(e)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    return app


def test_first_chunk_reaches_the_caller_before_the_upstream_sends_the_next(fleet: Fleet) -> None:
    gate = asyncio.Event()
    url = fleet.serve_app(_openai_like(gate=gate))
    fleet.put(endpoint("up", url), service("svc", [ALL]))
    received = b""
    with httpx.stream("POST", f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, timeout=5.0) as r:
        stream = r.iter_raw()
        while b"\n\n" not in received:
            received += next(stream)  # a buffering gateway would never deliver this: the upstream waits
        assert received == _chunk(0, True)
        fleet.loop.loop.call_soon_threadsafe(gate.set)
        received += b"".join(stream)
    # The caller did not ask for usage: the gateway's usage chunk is gone, every other byte is as sent.
    assert received == b"".join(_chunk(i, True) for i in range(3)) + b"data: [DONE]\n\n"
    m = _metrics_once(fleet, prompt=9, completion=3)
    assert _metric(m, "laneway_gateway_tokens_total", kind="prompt", service="svc") == 9
    assert _metric(m, "laneway_gateway_tokens_total", kind="completion", service="svc") == 3


def test_a_stream_that_arrives_whole_is_forwarded_whole_and_metered(fleet: Fleet) -> None:
    url = fleet.serve_app(_openai_like(one_write=True))
    fleet.put(endpoint("up", url), service("svc", [ALL]))
    target = f"{fleet.address}/ml/svc/v1/chat/completions"
    for _ in range(3):
        with httpx.stream("POST", target, json=BODY, timeout=5.0) as r:
            assert b"".join(r.iter_raw()) == b"".join(_chunk(i, True) for i in range(3)) + b"data: [DONE]\n\n"
    asked = {**BODY, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", target, json=asked, timeout=5.0) as r:
        raw = b"".join(r.iter_raw())
    assert USAGE in raw and raw.endswith(b"data: [DONE]\n\n")  # asked for by the caller: kept
    m = _metrics_once(fleet, prompt=4 * 9, completion=4 * 3)
    assert _metric(m, "laneway_gateway_tokens_total", kind="prompt", service="svc") == 4 * 9
    assert _metric(m, "laneway_gateway_tokens_total", kind="completion", service="svc") == 4 * 3
    assert _metric(m, "laneway_gateway_requests_total", code="200", service="svc") == 4
