"""Gateways that scale out on one PostgreSQL store: a rate limit holds across four gateway
processes, `--workers N` shares one port, and their figures add up in ModelService status.

Every gateway is a real `laneway gateway` process on a free loopback port; the upstream is a
small aiohttp app in this process. Processes are stopped (and killed if they hang) at the end.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import NS, Upstream, endpoint, lone_upstream, service

from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey
from laneway.store.postgres import PostgresStore
from laneway.testing.fleet import add_gateway
from laneway.testing.postgres import free_port

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
WAIT = 90.0
LIMIT = 300  # requests per minute, shared by every gateway


def _wait(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


class Gateways:
    """`laneway gateway` processes on one store; stopped with SIGTERM, killed if they hang."""

    def __init__(self, dsn: str, logs: Path) -> None:
        self.dsn = dsn
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, port: int, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"gateway-{port}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--store", self.dsn,
             "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with lone_upstream("a") as up:
        yield up


def _publish(store: PostgresStore, url: str, *, rate_limit: dict[str, int] | None) -> None:
    add_gateway(store)  # the platform opens loopback, where the upstream listens
    store.create(endpoint("a", url))
    created = store.get(endpoint("a", url).__class__, ObjectKey(NS, "a"))
    store.update_status(created.model_copy(update={"status": created.status.model_copy(update={"ready": True})}))
    store.create(service("probe", [{"selector": {"matchLabels": {"app": "m"}}}]))
    spec = {"rateLimit": rate_limit} if rate_limit else {}
    store.create(service("svc", [{"selector": {"matchLabels": {"app": "m"}}}], **spec))


def _serving(port: int) -> bool:
    try:
        return httpx.post(f"http://127.0.0.1:{port}/{NS}/probe/v1/chat/completions", json=BODY, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


async def _load(ports: list[int], total: int, concurrency: int) -> list[int]:
    import aiohttp

    codes: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(ports[i % len(ports)])

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            port = queue.get_nowait()
            async with session.post(f"http://127.0.0.1:{port}/{NS}/svc/v1/chat/completions", json=BODY) as r:
                await r.read()
                codes.append(r.status)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return codes


def test_a_rate_limit_holds_across_four_gateway_processes(postgres_dsn: str, upstream: Upstream, tmp_path: Path) -> None:
    store = PostgresStore(postgres_dsn)
    gateways = Gateways(postgres_dsn, tmp_path)
    try:
        _publish(store, upstream.url, rate_limit={"requestsPerMinute": LIMIT})
        ports = [free_port() for _ in range(4)]
        for port in ports:
            gateways.start(port, "--limit-share", "0.25")
        for port in ports:
            _wait(f"gateway on {port} serving", lambda port=port: _serving(port))

        started = time.monotonic()
        codes = asyncio.run(_load(ports, total=3 * LIMIT, concurrency=16))
        elapsed = time.monotonic() - started
        admitted = codes.count(200)
        assert set(codes) <= {200, 429}
        # Never more than the limit allows: its minute's burst plus what it refilled meanwhile.
        refill = math.ceil(LIMIT / 60.0 * elapsed)
        assert admitted <= LIMIT + refill, (admitted, LIMIT, refill)
        # And within 1% of it below: at most a lease's chunk per gateway sits unspent.
        assert admitted >= math.floor(LIMIT * 0.99), (admitted, LIMIT)
        # Four in-process limiters would have admitted up to 4 x LIMIT.
        print(f"admitted {admitted} of {len(codes)} with limit {LIMIT}/min over {elapsed:.1f} s (refill {refill})")
    finally:
        gateways.stop()
        store.close()


def test_workers_share_one_port_and_their_figures_add_up(postgres_dsn: str, upstream: Upstream, tmp_path: Path) -> None:
    store = PostgresStore(postgres_dsn)
    gateways = Gateways(postgres_dsn, tmp_path)
    try:
        _publish(store, upstream.url, rate_limit=None)
        port = free_port()
        supervisor = gateways.start(port, "--workers", "2")
        _wait("the workers serving", lambda: _serving(port))
        sent = 0
        for _ in range(200):  # a new connection each: the kernel spreads them over the workers
            r = httpx.post(f"http://127.0.0.1:{port}/{NS}/svc/v1/chat/completions", json=BODY, timeout=30)
            assert r.status_code == 200, r.text
            sent += 1

        def traffic() -> list[int]:
            status = store.get(ModelService, ObjectKey(NS, "svc")).status
            return [sum(t.requests.values()) for t in (status.traffic or [])]

        # Each worker writes its own entry in status.traffic (every 5 s); together they count all.
        _wait("both workers' figures in the status", lambda: len(traffic()) == 2 and sum(traffic()) == sent)
        assert all(n > 0 for n in traffic())

        # A worker that dies is replaced; the port keeps answering meanwhile.
        import psutil

        workers = psutil.Process(supervisor.pid).children()
        assert len(workers) == 2
        workers[0].kill()
        for _ in range(20):
            assert httpx.post(f"http://127.0.0.1:{port}/{NS}/svc/v1/chat/completions", json=BODY, timeout=30).status_code == 200
        _wait("the supervisor replacing the worker", lambda: len(psutil.Process(supervisor.pid).children()) == 2)
    finally:
        gateways.stop()
        store.close()
