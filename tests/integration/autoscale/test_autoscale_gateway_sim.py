"""Autoscaling end to end on loopback: the gateway, simulator engines, and the autoscaler
reading the gateway's demand gauges over HTTP. Replicas are stood in for by a tiny
materializer that keeps one ready ModelEndpoint per `spec.replicas` (what the deployment and
replica controllers do with real engines), so the test is about the scaling loop itself.
Time for the policy is a hand-driven clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import ObjectKey
from laneway.control.autoscaler import AutoscalerController
from laneway.control.base import ControlContext
from laneway.engines.sim import SimConfig, create_sim_app
from laneway.gateway.config import GatewayConfig
from laneway.gateway.server import start_gateway
from laneway.server.auth import create_token
from laneway.store.base import NotFound
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_class, add_cluster, add_deployment, add_gateway

NS = "ml"
KEY = ObjectKey(NS, "chat")


async def start_sim(**kw: Any) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_sim_app(SimConfig(served_model_names=("chat",), **kw)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def materialize(store: MemoryStore, url: str) -> int:
    """One ready endpoint per wanted replica, as the replica controller would keep them."""
    d = store.get("ModelDeployment", KEY)
    assert isinstance(d, ModelDeployment)
    wanted = {f"chat-{i}" for i in range(d.spec.replicas)}
    have = {e.name for e in store.list("ModelEndpoint", namespace=NS).items if e.metadata.labels.get("laneway.dev/deployment") == "chat"}
    for name in wanted - have:
        created = store.create(ModelEndpoint.model_validate({
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "chat", "laneway.dev/deployment": "chat"}},
            "spec": {"url": url},
        }))
        store.update_status(created.model_copy(update={"status": created.status.model_copy(update={"ready": True})}))
    for name in have - wanted:
        try:
            store.delete("ModelEndpoint", ObjectKey(NS, name))
        except NotFound:
            pass
    return d.spec.replicas


def service(overflow: bool) -> ModelService:
    entries: list[dict[str, Any]] = [{"selector": {"matchLabels": {"app": "chat"}}}]
    if overflow:
        entries.append({"selector": {"matchLabels": {"provider": "external"}}, "tier": "Overflow"})
    return ModelService.model_validate({"metadata": {"name": "chat", "namespace": NS}, "spec": {"endpoints": entries}})


class Loop:
    """The control loop of the test: autoscaler tick, then materialize, on a fake clock."""

    def __init__(self, store: MemoryStore, scaler: AutoscalerController, url: str, clock: list[float]) -> None:
        self.store, self.scaler, self.url, self.clock = store, scaler, url, clock
        self.history: list[int] = []

    async def tick(self, advance: float = 0.5) -> int:
        self.clock[0] += advance
        await self.scaler.reconcile(KEY)
        n = materialize(self.store, self.url)
        self.history.append(n)
        return n

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            await asyncio.sleep(0.05)




async def _chat(session: aiohttp.ClientSession, gateway: str, *, tokens: int = 8) -> tuple[int, str]:
    async with session.post(gateway + "/v1/chat/completions",
                            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": tokens}) as r:
        await r.read()
        return r.status, r.headers.get("x-laneway-tier", "")


def _scrape_token(store: MemoryStore) -> Callable[[], str]:
    """The platform token the autoscaler reads the gateway's /metrics with."""
    token = create_token(store, role="platform", description="autoscaler scrapes the gateway")
    return lambda: token


def _setup(overflow: bool = False) -> tuple[MemoryStore, list[float]]:
    store = MemoryStore()
    add_gateway(store)  # the simulators (and the overflow "provider") listen on loopback: the platform opens it
    add_class(store)
    add_cluster(store, "local", {})
    add_deployment(store, "chat", replicas=0, autoscaling={
        "minReplicas": 0, "maxReplicas": 3, "targetInFlight": 2,
        "scaleToZeroAfter": "30s", "scaleDownStabilization": "10s",
    })
    store.create(service(overflow))
    return store, [1_000.0]


def test_scale_from_zero_up_under_load_and_back_down() -> None:
    async def main() -> None:
        store, clock = _setup()
        sim, url = await start_sim(itl=0.01, max_tokens=8, ttft=0.005)
        gw = await start_gateway(store=store, host="127.0.0.1", port=0, config=GatewayConfig(cold_start_timeout=10, status_interval=3600))
        scaler = AutoscalerController(ControlContext(store=store, gateway_address=gw.address, gateway_token=_scrape_token(store), clock=lambda: clock[0]), interval=0.1)
        loop = Loop(store, scaler, url, clock)
        stop = asyncio.Event()
        try:
            await loop.tick()
            svc = store.get("ModelService", KEY)
            assert svc.status.wire().get("scaleFromZero") is True
            for _ in range(100):  # the gateway sees the mark after its debounce
                if gw.proxy.table.services[KEY].scale_from_zero:
                    break
                await asyncio.sleep(0.02)
            runner = asyncio.create_task(loop.run(stop))
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                status, tier = await _chat(session, gw.address)
                first_answer = time.monotonic() - started
                assert (status, tier) == (200, "Primary"), "the first request is held, then served by the new replica"
                assert loop.history and max(loop.history) >= 1
                assert first_answer < 10

                # load: 12 concurrent requests of ~0.4 s each at target 2 per replica -> up to max 3
                results = await asyncio.gather(*(_chat(session, gw.address, tokens=40) for _ in range(12)))
                assert all(s == 200 for s, _ in results)
            assert max(loop.history) == 3, loop.history
            stop.set()
            await runner
            # idle: down to one after the down-stabilization window, to zero after scaleToZeroAfter
            for _ in range(25):
                await loop.tick(advance=1.0)
            assert loop.history[-1] == 1
            for _ in range(10):
                await loop.tick(advance=1.0)
            assert loop.history[-1] == 0
            d = store.get("ModelDeployment", KEY)
            assert d.status.wire()["autoscaling"]["reason"] in ("ScaleToZero", "Idle")
        finally:
            stop.set()
            await gw.stop()
            await sim.cleanup()

    asyncio.run(main())


def test_held_request_gets_a_503_that_says_the_model_is_starting() -> None:
    async def main() -> None:
        store, clock = _setup()
        gw = await start_gateway(store=store, host="127.0.0.1", port=0, config=GatewayConfig(cold_start_timeout=0.3, status_interval=3600))
        scaler = AutoscalerController(ControlContext(store=store, gateway_address=gw.address, gateway_token=_scrape_token(store), clock=lambda: clock[0]))
        try:
            await scaler.reconcile(KEY)
            for _ in range(100):
                if gw.proxy.table.services[KEY].scale_from_zero:
                    break
                await asyncio.sleep(0.02)
            async with aiohttp.ClientSession() as session:
                async with session.post(gw.address + "/v1/chat/completions", json={"model": "chat", "messages": []}) as r:
                    body = await r.json()
                    assert r.status == 503 and r.headers["Retry-After"]
                    assert body["error"]["code"] == "model_starting" and "is starting" in body["error"]["message"]
        finally:
            await gw.stop()

    asyncio.run(main())


def test_overflow_covers_a_pending_scale_up() -> None:
    async def main() -> None:
        store, clock = _setup(overflow=True)
        sim, url = await start_sim(itl=0.01, max_tokens=8)
        external, external_url = await start_sim(itl=0.02, max_tokens=60)
        created = store.create(ModelEndpoint.model_validate({
            "metadata": {"name": "provider", "namespace": NS, "labels": {"provider": "external"}}, "spec": {"url": external_url}}))
        store.update_status(created.model_copy(update={"status": created.status.model_copy(update={"ready": True})}))
        gw = await start_gateway(store=store, host="127.0.0.1", port=0, config=GatewayConfig(status_interval=3600))
        scaler = AutoscalerController(ControlContext(store=store, gateway_address=gw.address, gateway_token=_scrape_token(store), clock=lambda: clock[0]))
        loop = Loop(store, scaler, url, clock)
        try:
            await asyncio.sleep(0.2)
            async with aiohttp.ClientSession() as session:
                pending = asyncio.create_task(_chat(session, gw.address, tokens=60))
                for _ in range(100):  # while the overflow request runs, demand makes the first replica
                    await asyncio.sleep(0.05)
                    if await loop.tick() >= 1:
                        break
                assert await pending == (200, "Overflow")
                for _ in range(100):
                    if gw.proxy.table.services[KEY].tiers.get("Primary"):
                        break
                    await asyncio.sleep(0.02)
                assert await _chat(session, gw.address) == (200, "Primary"), "traffic comes back once the replica is ready"
        finally:
            await gw.stop()
            await sim.cleanup()
            await external.cleanup()

    asyncio.run(main())
