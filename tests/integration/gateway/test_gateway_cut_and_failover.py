"""A stream cut short says so (in OpenAI's and Anthropic's format, so their SDKs raise), and
failover goes to the next tier when every primary endpoint is dead."""

from __future__ import annotations

import json
import socket

import anthropic
import httpx
import openai
import pytest
from aiohttp import web
from gateway_harness import Fleet, endpoint, service

PRIMARY = {"tier": "Primary", "selector": {"matchLabels": {"app": "p"}}}
OVERFLOW = {"tier": "Overflow", "selector": {"matchLabels": {"app": "o"}}}


def _cutting_app() -> web.Application:
    """An engine that starts a stream and dies in the middle of it (the socket is dropped)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if request.path.endswith("/messages"):
            start = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "svc",
                     "content": [], "stop_reason": None, "stop_sequence": None,
                     "usage": {"input_tokens": 1, "output_tokens": 0}}}
            await resp.write(f"event: message_start\ndata: {json.dumps(start)}\n\n".encode())
            await resp.write(b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n')
            await resp.write(b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"half an"}}\n\n')
        else:
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "svc",
                     "choices": [{"index": 0, "delta": {"content": "half an"}, "finish_reason": None}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        assert request.transport is not None
        request.transport.abort()  # the engine dies: no more bytes, no terminating chunk
        return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def test_a_cut_openai_stream_ends_with_an_error_event_the_sdk_raises_on(fleet: Fleet) -> None:
    url = fleet.serve_app(_cutting_app())
    fleet.put(endpoint("cut", url, labels={"app": "p"}), service("svc", [PRIMARY]))
    client = openai.OpenAI(base_url=f"{fleet.address}/ml/svc/v1", api_key="none", max_retries=0, timeout=10)
    got = []
    with pytest.raises(openai.APIError) as e:
        for chunk in client.chat.completions.create(model="svc", messages=[{"role": "user", "content": "hi"}], stream=True):
            got.extend(c.delta.content for c in chunk.choices if c.delta.content)
    assert got == ["half an"], "what came before the cut is delivered"
    assert "stopped in the middle of this answer" in str(e.value)
    metrics = fleet.metrics()
    assert 'code="stream_cut"' in metrics and 'code="502"' not in metrics, "a cut stream is its own outcome"
    traffic = fleet.status("svc")["traffic"][0]
    assert traffic["errors"] == 1


def test_a_cut_anthropic_stream_ends_with_an_error_event_the_sdk_raises_on(fleet: Fleet) -> None:
    url = fleet.serve_app(_cutting_app())
    fleet.put(endpoint("cut", url, labels={"app": "p"}), service("svc", [PRIMARY]))
    client = anthropic.Anthropic(base_url=f"{fleet.address}/ml/svc", api_key="none", max_retries=0, timeout=10)
    with pytest.raises(anthropic.APIError) as e, \
            client.messages.stream(model="svc", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
    assert "stopped in the middle of this answer" in str(e.value)
    raw = b""
    with pytest.raises(httpx.RemoteProtocolError), \
            httpx.stream("POST", f"{fleet.address}/ml/svc/v1/messages", timeout=10,
                         json={"model": "svc", "stream": True, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}) as r:
        for part in r.iter_bytes():  # and then the connection closes: no clean end
            raw += part
    assert b"event: error\ndata: " in raw and b'"api_error"' in raw


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_every_primary_dead_fails_over_to_overflow_without_a_failed_request(fleet: Fleet) -> None:
    over = fleet.upstream("over")
    deads = [endpoint(f"dead-{i}", _dead_url(), labels={"app": "p"}) for i in range(4)]
    fleet.put(*deads, endpoint("over", over.url, labels={"app": "o"}), service("svc", [PRIMARY, OVERFLOW]))
    body = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=fleet.address, timeout=10) as c:
        for _ in range(30):
            r = c.post("/ml/svc/v1/chat/completions", json=body)
            assert r.status_code == 200, r.text
            assert r.headers["x-laneway-tier"] == "Overflow"
    states = {k.name: s for k, s in fleet.gateway.proxy.states.items()}
    assert all(states[d.name].ejected for d in deads)
    # A refused connection ejects at once: one request learns it (plus a probe after the
    # ejection time), not three in a row for each endpoint.
    assert sum(states[d.name].total_requests for d in deads) <= 8


def test_a_primary_that_lives_is_still_preferred_after_one_dies(fleet: Fleet) -> None:
    ok, over = fleet.upstream("ok"), fleet.upstream("over")
    fleet.put(endpoint("dead", _dead_url(), labels={"app": "p"}), endpoint("ok", ok.url, labels={"app": "p"}),
              endpoint("over", over.url, labels={"app": "o"}), service("svc", [PRIMARY, OVERFLOW]))
    body = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=fleet.address, timeout=10) as c:
        tiers = [c.post("/ml/svc/v1/chat/completions", json=body).headers["x-laneway-tier"] for _ in range(20)]
    assert set(tiers) == {"Primary"}, "a live primary answers; overflow is only for when none is left"
