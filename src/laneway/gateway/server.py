"""Starting and stopping one gateway process: HTTP listener, table source, status writer.

`start_gateway(store=..., host=..., port=...)` is what `laneway up` and `laneway gateway`
call. It returns once the first routing table is loaded and the socket listens (port 0 picks a
free port; `handle.address` says which), and `await handle.stop()` stops everything it
started, in reverse order, leaving no task or connection behind.

The listener is aiohttp's low-level server (no router: the proxy dispatches on the path
itself), with handler cancellation on, so a client that disconnects cancels its handler and
with it the upstream request. Every connection is under a `connections.HeaderGuard` (a client
that trickles its headers is cut off) and idle keep-alive connections are closed after
`GatewayConfig.client_keepalive_timeout`. `/metrics` takes platform tokens checked against
the same store (`platform_auth`). Before its first status write a gateway carries over the
token totals its previous run (same identity) left in the store (`carry`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from laneway.api.meta import ObjectKey
from laneway.gateway.carry import carry_over
from laneway.gateway.config import GatewayConfig
from laneway.gateway.connections import GuardedServer, HeaderGuard
from laneway.gateway.economics_metrics import EconomicsCollector
from laneway.gateway.engine_watch import EngineWatch
from laneway.gateway.gc_policy import PROCESS_GC
from laneway.gateway.platform_auth import PlatformTokens
from laneway.gateway.proxy import Proxy
from laneway.gateway.source import TableSource
from laneway.gateway.status import StatusWriter
from laneway.gateway.table import RoutingTable
from laneway.store.base import Store, StoreError

log = logging.getLogger(__name__)

_FINAL_WRITE_SECONDS = 3.0
_PROBE_SECONDS = 1.0
_CLOSE_SECONDS = 1.0
"""On stop, after the proxy drained (`Proxy.drained`): how long aiohttp may take to close the
connections left (a request that arrived as the listener closed gets this long)."""

@dataclass
class GatewayHandle:
    address: str
    """`http://host:port` the gateway listens on."""
    proxy: Proxy
    _runner: web.BaseRunner
    _source: TableSource
    _status: StatusWriter
    _guard: HeaderGuard
    _gc_held: bool = False
    _watch: EngineWatch | None = None
    _stopped: bool = False

    def service_address(self, key: ObjectKey) -> str:
        return f"{self.address}/{key.namespace}/{key.name}"

    async def flush_status(self) -> None:
        """Write every ModelService status now instead of at the next interval."""
        await self._status.flush()

    async def stop(self) -> None:
        """Stop listening (no new request is accepted), let requests in flight finish within
        `GatewayConfig.shutdown_grace`, write the last figures, release the InferenceGateways
        this process holds (bounded: a store that hangs does not hold shutdown up), then stop
        the rest. Stopping twice is stopping once (`laneway up` stops the gateway before the
        engines, and again as its last cleanup)."""
        if self._stopped:
            return
        self._stopped = True
        await self._status.stop()
        for site in list(self._runner.sites):
            await site.stop()  # no new connection is accepted from here on
        # Nor a new request on a kept-alive connection (refused with `Connection: close`). The
        # connections are not closed here: one whose request body is still arriving would never
        # be read to its end.
        self.proxy.stopping = True
        left = await self.proxy.drained(self.proxy.config.shutdown_grace)
        if left:
            log.warning("gateway stopping with %d request(s) still in flight after %gs; they are cut", left,
                        self.proxy.config.shutdown_grace)
        await self._runner.cleanup()  # idle keep-alive connections close; nothing is left to wait for
        await self._guard.stop()
        try:
            await asyncio.wait_for(self._final_write(), _FINAL_WRITE_SECONDS)
        except Exception as exc:  # shutting down: say so, never raise past here
            log.warning("gateway's last status write skipped: %s", exc or type(exc).__name__)
        await self._source.stop()
        if self._watch is not None:
            await self._watch.stop()
        await self.proxy.close()
        PROCESS_GC.release(self._gc_held)
        self._gc_held = False

    async def _final_write(self) -> None:
        await self._status.flush()
        await self._status.release()


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return socket.gethostname() if host else "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def start_gateway(
    *,
    store: Store,
    host: str,
    port: int,
    config: GatewayConfig | None = None,
    identity: str | None = None,
    reuse_port: bool = False,
    shared_limits: bool = False,
    limit_share: float = 1.0,
) -> GatewayHandle:
    """Listen on host:port and serve the fleet in `store`. See the module docstring.

    `shared_limits`: rate limits drawn from budgets in the store, so they hold across every
    gateway process on it (`gateway.shared_limits`); while the store is away each process
    admits `limit_share` of each limit."""
    config = config or GatewayConfig()
    proxy = Proxy(config=config, platform=PlatformTokens(store))
    if shared_limits:
        from laneway.gateway.shared_limits import SharedRateLimiter
        from laneway.store.core import RecordStore

        if isinstance(store, RecordStore):
            proxy.limiter = SharedRateLimiter(store, clock=time.time, fallback_share=limit_share)
    await proxy.start()
    guard = HeaderGuard(timeout=config.client_header_timeout)

    def apply(table: RoutingTable) -> None:
        proxy.swap(table)
        guard.timeout = table.client_header_timeout or config.client_header_timeout

    source = TableSource(store, apply, debounce=config.rebuild_debounce, registry=proxy.meter.registry)
    proxy.meter.registry.register(EconomicsCollector(lambda: proxy.table))
    runner: web.BaseRunner | None = None
    try:
        await source.start()
        guard.start()
        server = GuardedServer(
            proxy.handle, guard=guard, handler_cancellation=True, keepalive_timeout=config.client_keepalive_timeout
        )
        runner = web.ServerRunner(server, access_log=None, shutdown_timeout=_CLOSE_SECONDS)
        await runner.setup()
        # reuse_port: several worker processes bind the same port and the kernel spreads the
        # connections over them (SO_REUSEPORT; `laneway gateway --workers N`).
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        bound = runner.addresses[0]
        address = f"http://{_display_host(host)}:{bound[1]}"
    except BaseException:
        if runner is not None:
            await runner.cleanup()
        await guard.stop()
        await source.stop()
        await proxy.close()
        raise

    def service_address(key: ObjectKey) -> str:
        public = _public_address(proxy) or address
        return f"{public.rstrip('/')}/{key.namespace}/{key.name}"

    identity = identity or f"{socket.gethostname()}-{bound[1]}"
    try:
        # Before the first status write, so the previous run's token totals are not overwritten.
        await asyncio.to_thread(carry_over, store, proxy.meter, identity)
    except StoreError as exc:
        log.warning("gateway could not read its previous token totals (economics start again from now): %s", exc)
    writer = StatusWriter(
        store,
        table=lambda: proxy.table,
        summary=proxy.meter.summary,
        address=service_address,
        identity=identity,
        interval=config.status_interval,
        window=config.latency_window,
        heartbeat_ttl=config.heartbeat_ttl,
        own_address=address,
        probe=lambda other: _answers(proxy, other),
        concurrency=lambda key: proxy.endpoint_state(key).concurrency,
    )
    writer.start()
    watch: EngineWatch | None = None
    if config.engine_load_interval:
        watch = EngineWatch(table=lambda: proxy.table, state=proxy.endpoint_state, session=lambda target: proxy.session_for(target) if proxy.session is not None else None,
                            interval=config.engine_load_interval)
        watch.start()
    gc_held = PROCESS_GC.hold(config.gc_young_threshold)
    return GatewayHandle(
        address=address, proxy=proxy, _runner=runner, _source=source, _status=writer, _guard=guard, _gc_held=gc_held,
        _watch=watch,
    )


async def _answers(proxy: Proxy, address: str) -> bool:
    """Whether a gateway still answers `/healthz` at `address` (within a second)."""
    if proxy.session is None:
        return False
    try:
        async with proxy.session.get(
            address.rstrip("/") + "/healthz", timeout=aiohttp.ClientTimeout(total=_PROBE_SECONDS)
        ) as resp:
            return resp.status == 200
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return False


def _public_address(proxy: Proxy) -> str | None:
    """An InferenceGateway's spec.address, when the platform team published one."""
    return proxy.table.public_address
