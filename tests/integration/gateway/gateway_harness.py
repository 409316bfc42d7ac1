"""Harness for gateway integration tests: a MemoryStore, upstreams and the gateway on loopback.

Everything async runs on one event loop in a background thread, so the tests themselves can
use the official synchronous `openai` and `anthropic` clients. Upstreams are small aiohttp
apps on free ports (fault control) or the laneway engine simulator. The fixture stops every
server and the loop at the end of each test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from aiohttp import web

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import BOUNDARY_LABELS_ANNOTATION, DEPLOYMENT_LABEL, WRITTEN_BY_ANNOTATION
from laneway.api.meta import ObjectKey, Resource
from laneway.gateway.config import GatewayConfig
from laneway.gateway.server import GatewayHandle, start_gateway
from laneway.server.auth import create_token
from laneway.store.base import NotFound, Store
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_gateway

T = TypeVar("T")
NS = "ml"


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-test-loop", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(_drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@dataclass
class Upstream:
    """A controllable OpenAI-ish upstream that records what it received."""

    name: str
    mode: str = "ok"  # ok | fail | slow | hang
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    cancelled: int = 0
    url: str = ""
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path in ("/metrics", "/kv_events"):
            # The gateway's engine watch asks every endpoint for its load; this upstream is no
            # engine and publishes none (what a policy must cope with), and it is not a request.
            return web.Response(status=404)
        body = await request.read()
        payload = json.loads(body) if body else {}
        self.received.append({"path": request.path, "headers": dict(request.headers), "payload": payload})
        self.in_flight += 1
        try:
            if self.mode == "fail":
                return web.json_response({"error": {"message": "boom"}}, status=500)
            if self.mode == "hang":
                await asyncio.sleep(60)
            if self.delay:
                await asyncio.sleep(self.delay)
            if payload.get("stream"):
                resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await resp.prepare(request)
                for i in range(3):
                    chunk = {"id": "x", "object": "chat.completion.chunk", "model": payload.get("model"),
                             "choices": [{"index": 0, "delta": {"content": f"{self.name}-{i} "}, "finish_reason": None}]}
                    await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    await asyncio.sleep(0.01)
                if (payload.get("stream_options") or {}).get("include_usage"):
                    usage = {"id": "x", "object": "chat.completion.chunk", "choices": [],
                             "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
                    await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
                await resp.write(b"data: [DONE]\n\n")
                await resp.write_eof()
                return resp
            return web.json_response({
                "id": "x", "object": "chat.completion", "model": payload.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": self.name}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            })
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def endpoint(name: str, url: str, *, labels: dict[str, str] | None = None, written_by: str | None = None,
             **spec: Any) -> ModelEndpoint:
    """`written_by`: the stamp the API server would put on it (`platform` for an admin token's
    write: the data boundary then reads its labels); None, as a store write leaves it."""
    annotations = {WRITTEN_BY_ANNOTATION: written_by} if written_by else {}
    return ModelEndpoint.model_validate(
        {"metadata": {"name": name, "namespace": NS, "labels": labels or {"app": "m"}, "annotations": annotations},
         "spec": {"url": url, **spec}}
    )


def placed_endpoint(name: str, url: str, *, namespace: str, deployment: str, cluster_labels: dict[str, str]) -> ModelEndpoint:
    """What the replica controller writes for a ready replica of `deployment` on a cluster with
    `cluster_labels` (a stand-in replica at `url` on 127.0.0.1, so no engine has to be placed):
    written by laneway, its cluster's labels the ones a data boundary reads, owned by a replica."""
    return ModelEndpoint.model_validate({
        "metadata": {
            "name": name, "namespace": namespace,
            "labels": {DEPLOYMENT_LABEL: deployment, **cluster_labels},
            "annotations": {WRITTEN_BY_ANNOTATION: "laneway", BOUNDARY_LABELS_ANNOTATION: ",".join(sorted(cluster_labels))},
            "ownerReferences": [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": name,
                                 "uid": f"{name}-uid", "controller": True}],
        },
        "spec": {"url": url},
        "status": {"ready": True},
    })


def service(name: str, entries: list[dict[str, Any]], **spec: Any) -> ModelService:
    return ModelService.model_validate({"metadata": {"name": name, "namespace": NS}, "spec": {"endpoints": entries, **spec}})


def secret(name: str, data: dict[str, str], *, labels: dict[str, str] | None = None, namespace: str = NS) -> Secret:
    return Secret.model_validate(
        {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "stringData": data}
    )


class Fleet:
    def __init__(self, config: GatewayConfig, *, store: Store | None = None) -> None:
        """`store`: the store to serve (a MemoryStore when None); the fleet closes it."""
        self.loop = LoopThread()
        self.store = store if store is not None else MemoryStore()
        add_gateway(self.store)  # the platform opens loopback, where the test's upstreams listen
        self.upstreams: list[Upstream] = []
        self.apps: list[web.AppRunner] = []
        self.gateway: GatewayHandle = self.loop.call(
            start_gateway(store=self.store, host="127.0.0.1", port=0, config=config, identity="test-gw")
        )
        self.platform_token = create_token(self.store, role="platform", description="gateway tests read /metrics")

    def metrics(self) -> str:
        """The gateway's /metrics, read with a platform token (as Prometheus would)."""
        r = httpx.get(f"{self.address}/metrics", headers={"Authorization": f"Bearer {self.platform_token}"}, timeout=10)
        assert r.status_code == 200, r.text
        return r.text

    @property
    def address(self) -> str:
        return self.gateway.address

    def upstream(self, name: str, **kw: Any) -> Upstream:
        up = Upstream(name, **kw)
        self.loop.call(up.start())
        self.upstreams.append(up)
        return up

    def serve_app(self, app: web.Application) -> str:
        async def go() -> str:
            runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.apps.append(runner)
            return f"http://127.0.0.1:{runner.addresses[0][1]}"

        return self.loop.call(go())

    def put(self, *objs: Resource, ready: bool | None = None) -> None:
        for obj in objs:
            try:
                current = self.store.get(obj.kind, obj.key)
                obj = obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"resource_version": current.metadata.resource_version})})
                stored = self.store.update(obj)
            except NotFound:
                stored = self.store.create(obj)
            if ready is not None and isinstance(stored, ModelEndpoint):
                self.store.update_status(stored.model_copy(update={"status": stored.status.model_copy(update={"ready": ready})}))
        self.sync()

    def delete(self, kind: str, name: str) -> None:
        self.store.delete(kind, ObjectKey(NS, name))
        self.sync()

    def sync(self, timeout: float = 5.0) -> None:
        """Wait until the gateway's table reflects every write made so far."""
        target = self.store.revision()
        deadline = time.monotonic() + timeout
        while self.gateway.proxy.table.revision < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"gateway table stuck at revision {self.gateway.proxy.table.revision} < {target}")
            time.sleep(0.01)

    def status(self, name: str) -> dict[str, Any]:
        self.loop.call(self.gateway.flush_status())
        return self.store.get("ModelService", ObjectKey(NS, name)).wire()["status"]

    def close(self) -> None:
        async def go() -> None:
            await self.gateway.stop()
            for up in self.upstreams:
                await up.stop()
            for r in self.apps:
                await r.cleanup()

        try:
            self.loop.call(go())
        finally:
            self.loop.close()
            self.store.close()


@contextmanager
def lone_upstream(name: str) -> Iterator[Upstream]:
    """An Upstream on a loop thread of its own, for a test with no in-process gateway (gateways
    in other processes, or none at all); stopped with its loop at the end."""
    loop = LoopThread()
    up = Upstream(name)
    loop.call(up.start())
    try:
        yield up
    finally:
        try:
            loop.call(up.stop())
        finally:
            loop.close()


FAST = GatewayConfig(
    ejection_seconds=0.3, max_ejection_seconds=1.0, status_interval=3600, rebuild_debounce=0.005,
    connect_timeout=2.0, headers_timeout=10.0,
)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    f = Fleet(FAST)
    try:
        yield f
    finally:
        f.close()


def run_on(fleet: Fleet, fn: Callable[[], Awaitable[T]]) -> T:
    return fleet.loop.call(fn())
