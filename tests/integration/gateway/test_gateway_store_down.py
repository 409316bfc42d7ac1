"""The gateway keeps answering while its PostgreSQL store is down, says so, and catches up.

A real PostgreSQL (the session's server, tests/conftest.py) is stopped under a gateway that
serves one service; requests keep getting answers from the upstream on the last routing table,
the log and `laneway_gateway_store_up` say the store is away, and once the server is back a
change written to the store reaches the gateway's table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
import pytest
from gateway_harness import FAST, Fleet, endpoint, service
from prometheus_client import generate_latest

from laneway.store.postgres import PostgresStore
from laneway.testing.postgres import PostgresServer

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
WAIT = 60.0


def _gauge(fleet: Fleet, name: str) -> float:
    text = generate_latest(fleet.gateway.proxy.meter.registry).decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the gateway's metrics")


def _wait(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT:.0f} s")
        time.sleep(0.1)


def test_gateway_serves_its_last_table_while_postgres_is_down(
    postgres: PostgresServer, postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="laneway.gateway.source")
    fleet = Fleet(FAST, store=PostgresStore(postgres_dsn, connect_timeout=2))
    try:
        a = fleet.upstream("a")
        fleet.put(endpoint("a", a.url), service("svc", [{"selector": {"matchLabels": {"app": "m"}}}]))
        with httpx.Client(base_url=fleet.address, timeout=30) as client:
            assert client.post("/ml/svc/v1/chat/completions", json=BODY).status_code == 200
            assert _gauge(fleet, "laneway_gateway_store_up") == 1.0
            served = _gauge(fleet, "laneway_gateway_table_revision")

            postgres.stop()
            try:
                _wait("the gateway noticing the store is down", lambda: _gauge(fleet, "laneway_gateway_store_up") == 0.0)
                for _ in range(20):
                    r = client.post("/ml/svc/v1/chat/completions", json=BODY)
                    assert r.status_code == 200, r.text
                    assert r.headers["x-laneway-endpoint"] == "a"
                assert _gauge(fleet, "laneway_gateway_table_revision") == served
                assert any("serving on the last routing table" in r.getMessage() for r in caplog.records)
            finally:
                postgres.start()

            _wait("the gateway reading the store again", lambda: _gauge(fleet, "laneway_gateway_store_up") == 1.0)
            b = fleet.upstream("b")
            fleet.put(endpoint("b", b.url))  # a change after the outage reaches the table
            seen = {client.post("/ml/svc/v1/chat/completions", json=BODY).headers["x-laneway-endpoint"] for _ in range(40)}
            assert seen == {"a", "b"}
            assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        fleet.close()
