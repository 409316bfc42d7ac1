"""Slow callers: a bound on how long a connection may take to send a request's headers.

aiohttp's server bounds idle keep-alive connections but not a request that is arriving: a
client that sends its headers a byte every few seconds (slowloris) holds a connection, and a
few thousand of them hold the gateway. `HeaderGuard` closes any connection that has been
receiving a request's line and headers for longer than `timeout`: counted from the
connection's start, or from the first byte after the previous request was handled. Once the
headers are in and the proxy's handler runs, the guard steps aside, so neither the request
body (bounded separately, by `GatewayConfig.client_body_timeout`, in the proxy) nor a long
streamed answer is cut by it. An idle keep-alive connection is left to aiohttp's
`keepalive_timeout`.

How: `GuardedServer` wraps each of aiohttp's per-connection protocols in `_Guarded`, a thin
delegate that notes when a request starts arriving, and wraps the request handler so the
delegate learns when one is being handled. One sweeper task checks the open connections every
`resolution` seconds (no timer per request): a connection is closed no earlier than `timeout`
and no later than `timeout + resolution` after its request began to arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from laneway.gateway.tasks import start_task, stop_task

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""The proxy's handler. aiohttp's low-level server hands it a `BaseRequest`, which has every
attribute the proxy reads; `web.Request` is how the proxy is annotated."""


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol, plus when its current request began to arrive."""

    __slots__ = ("_guard", "arriving_since", "busy", "inner", "transport")

    def __init__(self, inner: RequestHandler, guard: HeaderGuard) -> None:
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.arriving_since: float | None = None
        self.busy = False
        self._guard = guard

    # asyncio.Protocol, delegated ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.arriving_since = self._guard.now()
        self._guard.open.add(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy and self.arriving_since is None:
            self.arriving_since = self._guard.now()
        self.inner.data_received(data)

    def eof_received(self) -> None:
        self.inner.eof_received()  # aiohttp's returns None: the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.open.discard(self)
        self.transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # the request's life ------------------------------------------------------------------

    def handling(self) -> None:
        self.busy = True
        self.arriving_since = None

    def handled(self) -> None:
        self.busy = False


class HeaderGuard:
    """The open connections of one server and the sweeper that closes slow ones."""

    def __init__(self, *, timeout: float, resolution: float | None = None) -> None:
        if timeout <= 0:
            raise ValueError(f"the header timeout must be positive, got {timeout!r}")
        self.timeout = timeout
        """Seconds; may be changed while serving (an InferenceGateway's policy), the sweep
        reads it each time."""
        self.resolution = resolution if resolution is not None else max(0.05, min(1.0, timeout / 4))
        self.open: set[_Guarded] = set()
        self.closed_slow = 0
        """Connections closed for sending their headers too slowly (for tests and metrics)."""
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def start(self) -> None:
        if self._task is None:
            self._task = start_task(self._sweep(), name="gateway-header-guard")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    def close_due(self) -> int:
        """Close every connection whose request has been arriving for longer than the timeout;
        returns how many (the sweeper's step)."""
        edge = self.now() - self.timeout
        closed = 0
        for conn in list(self.open):
            since = conn.arriving_since
            if since is not None and since <= edge and not conn.busy and conn.transport is not None:
                conn.arriving_since = None
                conn.transport.close()
                closed += 1
        if closed:
            self.closed_slow += closed
            log.info("closed %d connection(s) that sent no complete request headers within %gs", closed, self.timeout)
        return closed

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.resolution)
            if self.open:
                try:
                    self.close_due()
                except Exception:  # a bug here must not end the guard silently
                    log.exception("the gateway's header-timeout sweep failed; it will run again")


class GuardedServer(web.Server):
    """aiohttp's low-level server with every connection under a `HeaderGuard`."""

    def __init__(self, handler: Handler, *, guard: HeaderGuard, **kwargs: Any) -> None:
        self.guard = guard

        async def guarded(request: web.BaseRequest) -> web.StreamResponse:
            transport = request.transport
            conn = transport.get_protocol() if transport is not None else None
            if isinstance(conn, _Guarded):
                conn.handling()
                try:
                    return await handler(cast(web.Request, request))
                finally:
                    conn.handled()
            return await handler(cast(web.Request, request))

        super().__init__(guarded, **kwargs)

    def __call__(self) -> RequestHandler:
        # asyncio only needs a Protocol; aiohttp's own code reaches its handler through the
        # request, never through the transport, so the delegate can stand in for it.
        return _Guarded(super().__call__(), self.guard)  # type: ignore[return-value]
