"""The gateway's slow-client item of attack 10 of issue 11: slow-header (slowloris) and
slow-body callers were never timed out. Now both are cut off, and a long streamed answer is
not.

Against the gateway harness (the real gateway server on 127.0.0.1 over a store, with
recording upstreams) with short client timeouts, so the bounds show in seconds; `laneway up`
runs the same server with the documented defaults. Every wait is bounded and generous: the
checks are that the connection was closed and the upstream received nothing, never how fast.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

GATEWAY_TESTS = Path(__file__).resolve().parents[1] / "integration" / "gateway"
if str(GATEWAY_TESTS) not in sys.path:
    sys.path.insert(0, str(GATEWAY_TESTS))

from gateway_harness import FAST, Fleet, endpoint, service
from security_harness import connect, trickle

from laneway.api.kinds.platform import InferenceGateway
from laneway.engines.sim import SimConfig, create_sim_app

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
GIVE_UP_AFTER = 30.0  # the attack goes on this long at most; the gateway must cut it well before
ALL = {"selector": {"matchLabels": {"app": "m"}}}


@pytest.fixture
def slow_fleet() -> Iterator[Fleet]:
    fleet = Fleet(replace(FAST, client_header_timeout=HEADER_TIMEOUT, client_body_timeout=BODY_TIMEOUT))
    try:
        yield fleet
    finally:
        fleet.close()


def test_attack10_slowloris_headers_are_cut_off(slow_fleet: Fleet) -> None:
    up = slow_fleet.upstream("engine")
    slow_fleet.put(endpoint("engine", up.url), service("svc", [ALL]))
    request = (b"POST /ml/svc/v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
               + b"".join(b"X-Padding-%d: %s\r\n" % (i, b"a" * 20) for i in range(200)) + b"\r\n")
    with connect(slow_fleet.address, timeout=GIVE_UP_AFTER) as sock:
        got = trickle(sock, request, every=0.05, give_up=GIVE_UP_AFTER)
    assert got.closed, f"the gateway kept a connection open that sent {got.sent} header bytes over {GIVE_UP_AFTER}s"
    assert got.sent < len(request), "the whole request went through"
    assert up.received == []
    assert slow_fleet.gateway._guard.closed_slow >= 1
    # The gateway still serves everyone else.
    assert httpx.post(f"{slow_fleet.address}/ml/svc/v1/chat/completions", json={"messages": []}, timeout=10).status_code == 200


def test_attack10_an_idle_connection_that_never_sends_a_request_is_closed(slow_fleet: Fleet) -> None:
    with connect(slow_fleet.address, timeout=GIVE_UP_AFTER) as sock:
        sock.settimeout(GIVE_UP_AFTER)
        assert sock.recv(1) == b""  # closed by the gateway, not by our own timeout


def test_attack10_a_slow_body_gets_408_and_never_reaches_the_upstream(slow_fleet: Fleet) -> None:
    up = slow_fleet.upstream("engine")
    slow_fleet.put(endpoint("engine", up.url), service("svc", [ALL]))
    body = json.dumps({"model": "svc", "messages": [{"role": "user", "content": "x" * 400}]}).encode()
    head = (b"POST /ml/svc/v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with connect(slow_fleet.address, timeout=GIVE_UP_AFTER) as sock:
        sock.sendall(head)
        got = trickle(sock, body, every=0.05, give_up=GIVE_UP_AFTER)
    assert got.closed, f"the gateway kept reading a body trickled over {GIVE_UP_AFTER}s"
    assert got.sent < len(body)
    assert got.answer.startswith(b"HTTP/1.1 408"), got.answer[:200]
    assert b"body_timeout" in got.answer
    assert up.received == []


def test_attack10_the_platform_sets_the_bounds_on_its_inference_gateway() -> None:
    """The gateway process keeps its 20 s defaults; the InferenceGateway's policy shortens them."""
    fleet = Fleet(FAST)
    try:
        up = fleet.upstream("engine")
        fleet.put(
            InferenceGateway.model_validate(
                {"metadata": {"name": "front-door"}, "spec": {"policy": {"clientHeaderTimeout": "1s", "clientBodyTimeout": "1s"}}}
            ),
            endpoint("engine", up.url),
            service("svc", [ALL]),
        )
        assert fleet.gateway._guard.timeout == 1.0
        with connect(fleet.address, timeout=GIVE_UP_AFTER) as sock:
            got = trickle(sock, b"GET /ml/svc/v1/models HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 2000, every=0.05, give_up=GIVE_UP_AFTER)
        assert got.closed and up.received == []
    finally:
        fleet.close()


def test_a_long_streamed_answer_is_not_cut_by_the_client_timeouts(slow_fleet: Fleet) -> None:
    """The simulator streams 30 tokens 0.1 s apart: about 3 s, longer than both client
    timeouts together, and the answer arrives whole."""
    url = slow_fleet.serve_app(create_sim_app(SimConfig(served_model_names=("svc",), ttft=0.0, itl=0.1, max_tokens=30)))
    slow_fleet.put(endpoint("sim", url), service("svc", [ALL]))
    started = time.monotonic()
    with httpx.stream("POST", f"{slow_fleet.address}/ml/svc/v1/chat/completions", timeout=60,
                      json={"model": "svc", "stream": True, "max_tokens": 30,
                            "messages": [{"role": "user", "content": "hi"}]}) as r:
        raw = b"".join(r.iter_bytes())
    took = time.monotonic() - started
    assert r.status_code == 200
    assert raw.rstrip().endswith(b"data: [DONE]")
    assert took > HEADER_TIMEOUT + BODY_TIMEOUT, "the stream was too short to show anything"
