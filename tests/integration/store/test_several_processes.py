"""Several control-plane processes on one PostgreSQL: three `laneway up` (the API on all,
the controllers in whichever holds the lease) and two `laneway gateway` processes.

The README's examples are applied through different processes; a non-streamed load runs
through the gateways while one gateway process is SIGKILLed (the client retries a request
whose connection failed on the other gateway's port, as a client behind two addresses or a
load balancer with retries does, and sees no error); then the controller leader is SIGKILLed
mid-way and another process takes the controllers over: the fleet converges with exactly the
replicas and engines the deployment asks for, none duplicated. The killed gateway stopped
heartbeating, so its figures leave the service's status (`gateway.heartbeat`); and the three
processes, given one admin token (`--admin-token-file`), hold one admin token in the store.

Every process is stopped at the end (engines die with the `laneway up` that started them).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest

from laneway.api.conditions import find_condition
from laneway.api.kinds import ModelDeployment, ModelEndpoint, ModelReplica, ModelService
from laneway.api.kinds.serving import GatewayTraffic
from laneway.api.meta import ObjectKey
from laneway.control.manager import DEFAULT_LEASE_NAME
from laneway.gateway.config import GatewayConfig
from laneway.store.postgres import PostgresStore
from laneway.testing.postgres import free_port

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Up, cli_env

WAIT = 120.0  # generous: a loaded 2-core machine starts processes slowly
NS = "ml-team"
HEARTBEAT_TTL = GatewayConfig().heartbeat_ttl
BODY = {"model": "support-bot", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
T = TypeVar("T")


def gateway_identity(gateway: Gateway) -> str:
    return f"{socket.gethostname()}-{gateway.port}"


def traffic_of(store: PostgresStore) -> dict[str, GatewayTraffic]:
    """The support-bot service's `status.traffic`, by gateway."""
    return {t.gateway: t for t in store.get(ModelService, ObjectKey(NS, "support-bot")).status.traffic or []}


def eventually(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(0.25)


def apply(up: Up, *paths: str) -> None:
    args = [a for p in paths for a in ("-f", str(ROOT / p))]
    done = subprocess.run([sys.executable, "-m", "laneway.cli.main", "apply", *args], env=cli_env(up.data_dir),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


class Gateway:
    def __init__(self, dsn: str, logs: Path) -> None:
        self.port = free_port()
        self.log = logs / f"gateway-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--store", dsn,
                 "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def fleet(postgres_dsn: str, tmp_path: Path) -> Iterator[tuple[list[Up], list[Gateway], PostgresStore]]:
    ups: list[Up] = []
    gateways: list[Gateway] = []
    store = PostgresStore(postgres_dsn)
    token_file = tmp_path / "admin-token"  # one admin token for every process, as deploy/ mounts it
    token_file.write_text("lw_" + "t" * 43)
    try:
        for i in range(3):
            ups.append(Up.start(tmp_path / f"up{i}", local_cluster=False,
                                args=("--store", postgres_dsn, "--lease-ttl", "3", "--log-level", "info",
                                      "--admin-token-file", str(token_file))))
        for up in ups:
            up.wait_ready()
        gateways = [Gateway(postgres_dsn, tmp_path) for _ in range(2)]
        yield ups, gateways, store
    finally:
        for g in gateways:
            g.stop()
        for up in ups:
            up.remember_descendants()
            if up.process.poll() is None:
                up.stop()
        for up in ups:
            for pid in up.leftovers():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        store.close()


def leader_pid(store: PostgresStore) -> int | None:
    lease = store.get_lease(DEFAULT_LEASE_NAME)
    if lease is None or not lease.holder or lease.expires_at < time.time():
        return None
    return int(lease.holder.rsplit("-", 2)[1])


def ready_replicas(store: PostgresStore) -> list[ModelReplica] | None:
    replicas = store.list(ModelReplica, namespace=NS).items
    ready = [r for r in replicas if (c := find_condition(r.status.conditions, "Ready")) and c.status == "True"]
    endpoints = [e for e in store.list(ModelEndpoint, namespace=NS).items if e.status.ready]
    return replicas if len(ready) == 2 and len(replicas) == 2 and len(endpoints) >= 2 else None


def engine_processes(ups: list[Up]) -> list[psutil.Process]:
    """The simulator engines serving sim-chat under the live `laneway up` processes."""
    found = []
    for up in ups:
        if up.process.poll() is not None:
            continue
        for child in psutil.Process(up.process.pid).children(recursive=True):
            try:
                line = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "sim-chat" in line and "engine" in line and "bwrap" not in child.name():
                found.append(child)
    # A sandboxed engine may show as a wrapper and the engine itself: count the outermost only.
    pids = {p.pid for p in found}
    return [p for p in found if p.ppid() not in pids]


def test_three_up_processes_and_two_gateways_on_one_postgres(
    fleet: tuple[list[Up], list[Gateway], PostgresStore],
) -> None:
    ups, gateways, store = fleet
    admins = [r for r in store.list_tokens() if r.role == "admin" and not r.revoked]
    assert len(admins) == 1  # three processes, one admin token: the one they were given
    # The README's examples, each part through a different process.
    apply(ups[0], "examples/platform/")
    apply(ups[1], "examples/models/sim-chat.yaml")
    apply(ups[2], "examples/models/service.yaml")
    eventually("two Ready replicas with endpoints", lambda: ready_replicas(store))
    for g in gateways:
        eventually(f"gateway {g.port} answering", lambda g=g: httpx.post(
            f"http://127.0.0.1:{g.port}/{NS}/support-bot/v1/chat/completions", json=BODY, timeout=30).status_code == 200)

    # -- load through both gateways while one of them is SIGKILLed -------------------------------
    answered: list[int] = []
    errors: list[str] = []
    retried = 0
    stop = threading.Event()

    def client(first: int) -> None:
        nonlocal retried
        order = [gateways[first].port, gateways[1 - first].port]
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                for attempt, port in enumerate(order):
                    try:
                        r = http.post(f"http://127.0.0.1:{port}/{NS}/support-bot/v1/chat/completions", json=BODY)
                    except httpx.TransportError:  # that gateway is gone: the other one's port
                        retried += attempt == 0
                        continue
                    if r.status_code == 200:
                        answered.append(port)
                    else:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                    break
                else:
                    errors.append("no gateway answered")

    threads = [threading.Thread(target=client, args=(i % 2,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        eventually("load flowing", lambda: len(answered) >= 40)
        eventually("the first gateway's figures in the service status", lambda: (t := traffic_of(store).get(
            gateway_identity(gateways[0]))) is not None and sum(t.requests.values()) > 0)
        gateways[0].process.send_signal(signal.SIGKILL)
        before = len(answered)
        eventually("load continuing on the other gateway", lambda: len(answered) >= before + 80)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert answered.count(gateways[1].port) > 0

    # -- SIGKILL the controller leader mid-way ---------------------------------------------------
    leader = eventually("a controller leader", lambda: leader_pid(store))
    by_pid = {up.process.pid: up for up in ups}
    assert leader in by_pid
    before_replicas = {r.metadata.uid for r in store.list(ModelReplica, namespace=NS).items}
    scaled = store.get(ModelDeployment, ObjectKey(NS, "sim-chat"))
    scaled.spec.replicas = 3  # a change in flight while the leader dies
    store.update(scaled)
    by_pid[leader].process.send_signal(signal.SIGKILL)
    by_pid[leader].process.wait(timeout=30)

    successor = eventually("another process leading", lambda: (p := leader_pid(store)) and p != leader and p)
    assert successor in by_pid and by_pid[successor].process.poll() is None

    def converged() -> list[ModelReplica] | None:
        replicas = store.list(ModelReplica, namespace=NS).items
        ready = [r for r in replicas if (c := find_condition(r.status.conditions, "Ready")) and c.status == "True"]
        return replicas if len(replicas) == 3 and len(ready) == 3 else None

    replicas = eventually("three Ready replicas under the new leader", converged)
    names = [r.metadata.name for r in replicas]
    assert len(set(names)) == 3 == len(names)
    assert before_replicas <= {r.metadata.uid for r in replicas}  # kept, not recreated: never moved
    engines = eventually("one engine per replica", lambda: (e := engine_processes(ups)) and len(e) == 3 and e)
    assert len(engines) == 3  # no engine double-started by the old and the new leader
    r = httpx.post(f"http://127.0.0.1:{gateways[1].port}/{NS}/support-bot/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 200, r.text

    # -- the SIGKILLed gateway stopped heartbeating: its figures stop counting ---------------------
    def dead_gateway_retired() -> bool:
        traffic = traffic_of(store)
        gone = traffic.get(gateway_identity(gateways[0]))
        return gateway_identity(gateways[1]) in traffic and (
            gone is None or (not gone.requests and gone.p95_latency_seconds is None))

    eventually("the dead gateway's window figures gone from the service status", dead_gateway_retired,
               timeout=HEARTBEAT_TTL + 60)
