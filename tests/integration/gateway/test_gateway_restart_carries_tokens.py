"""A real restart of `laneway gateway` (SIGTERM, then the same command on the same port) keeps
the token totals economics and budgets read: the second run carries on from what the first
left in the store, with the first run's `since`, so cost per million tokens over a window and
the budget ledger see every request once. Every wait is bounded; nothing asserts timing."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from gateway_harness import LoopThread, Upstream, endpoint, service

from laneway.api.kinds.platform import Budget
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import ObjectKey, rfc3339
from laneway.economics.budget import ledger
from laneway.economics.report import metered
from laneway.economics.tokens import Tokens
from laneway.store.sqlite import SqliteStore
from laneway.testing.fleet import add_gateway
from laneway.testing.postgres import free_port

BODY = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
IN_PRICE, OUT_PRICE = 2.0, 6.0


def _run_gateway(db: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway",
         "--store", f"sqlite:///{db}", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+)", line)
    if not m:
        proc.kill()
        raise AssertionError(line + (proc.stderr.read() if proc.stderr else ""))
    return proc, m.group(1)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    assert proc.wait(timeout=30) == 0  # a clean stop writes the last figures


def _send(address: str, n: int) -> None:
    sent = 0
    deadline = time.monotonic() + 60
    while sent < n:
        r = httpx.post(f"{address}/ml/chat/v1/chat/completions", json=BODY, timeout=30)
        if r.status_code == 200:
            sent += 1
            continue
        assert time.monotonic() < deadline, f"the gateway never routed the service: {r.status_code} {r.text}"
        time.sleep(0.1)


def _service(db: Path) -> ModelService:
    store = SqliteStore(db)
    try:
        return store.get(ModelService, ObjectKey("ml", "chat"))
    finally:
        store.close()


def test_a_restarted_gateway_carries_on_from_its_token_totals(tmp_path: Path) -> None:
    loop = LoopThread()
    upstream = Upstream("hosted")  # 5 prompt and 2 completion tokens an answer
    db = tmp_path / "laneway.db"
    try:
        url = loop.call(upstream.start())
        store = SqliteStore(db)
        add_gateway(store)  # opens loopback egress for the upstream
        store.create(endpoint("hosted", url, pricing={"perMillionInputTokens": IN_PRICE, "perMillionOutputTokens": OUT_PRICE}))
        store.create(service("chat", [{"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}]))
        hosted = store.get(ModelEndpoint, ObjectKey("ml", "hosted"))
        store.close()
        port = free_port()
        budget = Budget.model_validate({"namespace": "ml", "limit": 100.0, "period": "30d"})

        proc, address = _run_gateway(db, port)
        try:
            _send(address, 3)
        finally:
            _stop(proc)
        first = _service(db)
        (entry,) = first.status.traffic or []
        assert entry.tokens is not None and (entry.tokens["hosted"].prompt, entry.tokens["hosted"].completion) == (15, 6)
        ledger_after_first = ledger(budget, None, [first], {"hosted": hosted}, now=time.time())

        proc, address = _run_gateway(db, port)  # same port: the same identity
        try:
            _send(address, 2)
        finally:
            _stop(proc)
        second = _service(db)
        (again,) = second.status.traffic or []
        assert again.gateway == entry.gateway and again.since == entry.since, "the first run's since is kept"
        tokens, since = metered(second)
        assert tokens["hosted"] == ("Overflow", Tokens(25, 10)), "both runs' tokens, each once"
        assert since is not None and rfc3339(since) == entry.since, "economics' span starts at the first run"
        spent = ledger(budget, ledger_after_first, [second], {"hosted": hosted}, now=time.time()).spent
        assert abs(spent - (25 * IN_PRICE + 10 * OUT_PRICE) / 1e6) < 1e-12, "the budget counts every token once"
        assert len(upstream.received) == 5
    finally:
        loop.call(upstream.stop())
        loop.close()
