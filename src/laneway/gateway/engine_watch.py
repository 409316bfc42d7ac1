"""Watching the engines behind the gateway: their load, and their KV-cache events. I/O.

Two jobs, both off the hot path, both writing only into `EndpointState` (which policies read):

- **load**: every `GatewayConfig.engine_load_interval` seconds, each endpoint's `/metrics` is
  fetched (all at once, each bounded by the interval and `MAX_METRICS_BYTES`) and parsed by
  `load.parse_load` into `EndpointState.load`. A scrape that fails leaves the last reading,
  which goes stale on its own (`load.STALE_AFTER`), so a policy never acts on an old figure.
  Two readings in a row with requests waiting raise `EndpointState.concurrency`, the engine's
  measured concurrency (`load.saturated_running`), which the status reports per service entry.
- **KV events**: for endpoints of services whose policy asks for them (`kv_events`, e.g.
  `KVAware`), one long-lived `GET /kv_events` per endpoint reads the engine's JSON-lines event
  stream (format in `kv_index`) into `EndpointState.kv`. A stream that breaks marks the index
  unsynced and reconnects after a back-off (the new stream starts with a snapshot).

Only endpoints laneway reaches without credentials are watched: an external provider's (one
with an upstream key, or on https) is never scraped, so its key is never sent anywhere but
with a caller's request and the gateway never probes a provider on its own. A URL the team
lane wrote (`Target.guarded`) is watched only through the egress policy, as callers' requests
to it are (`laneway.egress.aio`): `session(target)` hands out the guarded session for it, so
the gateway never connects, on a timer, to an address the platform did not open. The origin scraped
is the endpoint URL's scheme, host and port, which the gateway already sends requests to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import aiohttp

from laneway.api.meta import ObjectKey
from laneway.gateway.health import EndpointState
from laneway.gateway.kv_index import MAX_LINE_BYTES, KVBlocks, KVEventError, parse_batch
from laneway.gateway.load import MetricsError, parse_load, saturated_running
from laneway.gateway.table import RoutingTable
from laneway.gateway.tasks import start_task, stop_task
from laneway.gateway.weights import Target

log = logging.getLogger(__name__)

MAX_METRICS_BYTES = 4 << 20
RECONNECT_SECONDS = 1.0
MAX_RECONNECT_SECONDS = 5.0


def origin(target: Target) -> str:
    parts = urlsplit(target.base_url)
    return f"{parts.scheme}://{parts.netloc}"


def watched(table: RoutingTable) -> Iterator[tuple[Target, bool]]:
    """Each endpoint to watch once, and whether its KV events are wanted."""
    seen: dict[ObjectKey, tuple[Target, bool]] = {}
    for route in table.services.values():
        wants_kv = route.policy.kv_events
        for entries in route.tiers.values():
            for entry in entries:
                for t in entry.targets:
                    if t.external:
                        continue
                    prior = seen.get(t.key)
                    seen[t.key] = (t, wants_kv or (prior is not None and prior[1]))
    yield from seen.values()


class EngineWatch:
    """Owns the scrape loop and one subscription task per KV-watched endpoint."""

    def __init__(
        self,
        *,
        table: Callable[[], RoutingTable],
        state: Callable[[ObjectKey], EndpointState],
        session: Callable[[Target], aiohttp.ClientSession | None],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._state = state
        self._session = session
        self._interval = interval
        self._clock = clock
        self._loop_task: asyncio.Task[None] | None = None
        self._subscriptions: dict[ObjectKey, tuple[str, asyncio.Task[None]]] = {}
        self.scrapes = 0
        self.scrape_failures = 0

    def start(self) -> None:
        self._loop_task = start_task(self._run(), name="laneway-gateway-engine-watch")

    async def stop(self) -> None:
        await stop_task(self._loop_task)
        self._loop_task = None
        for _, task in list(self._subscriptions.values()):
            await stop_task(task)
        self._subscriptions.clear()

    async def _run(self) -> None:
        while True:
            started = self._clock()
            targets = list(watched(self._table()))
            self._follow_kv(targets)
            if targets:
                await asyncio.gather(*(self._scrape(t) for t, _ in targets))
            await asyncio.sleep(max(0.0, self._interval - (self._clock() - started)))

    async def _scrape(self, target: Target) -> None:
        session = self._session(target)
        if session is None:
            return
        try:
            async with asyncio.timeout(self._interval * 2):
                async with session.get(origin(target) + "/metrics", allow_redirects=False) as resp:
                    if resp.status != 200:
                        raise MetricsError(f"/metrics answered {resp.status}")
                    raw = await resp.content.read(MAX_METRICS_BYTES)
            load = parse_load(raw.decode("utf-8", "replace"), observed_at=self._clock())
        except (aiohttp.ClientError, OSError, TimeoutError, MetricsError) as exc:
            self.scrape_failures += 1
            log.debug("load scrape of %s failed: %s", target.name, exc)
            return
        self.scrapes += 1
        state = self._state(target.key)
        held = saturated_running(state.load, load)
        if held is not None and held > (state.concurrency or 0):
            state.concurrency = held
        state.load = load

    def _follow_kv(self, targets: list[tuple[Target, bool]]) -> None:
        wanted = {t.key: (origin(t), t) for t, kv in targets if kv}
        for key, (url, task) in list(self._subscriptions.items()):
            if key not in wanted or wanted[key][0] != url or task.done():
                task.cancel()
                del self._subscriptions[key]
                st = self._state(key)
                if st.kv is not None:
                    st.kv.lost()
        for key, (url, target) in wanted.items():
            if key not in self._subscriptions:
                task = start_task(self._subscribe(key, url, target), name=f"laneway-gateway-kv-events-{key.namespace}-{key.name}")
                self._subscriptions[key] = (url, task)

    async def _subscribe(self, key: ObjectKey, url: str, target: Target) -> None:
        backoff = RECONNECT_SECONDS
        while True:
            st = self._state(key)
            kv = st.kv if st.kv is not None else KVBlocks()
            st.kv = kv
            session = self._session(target)
            if session is not None:
                try:
                    await self._read_events(session, url, kv)
                    backoff = RECONNECT_SECONDS
                except (aiohttp.ClientError, OSError, TimeoutError, KVEventError, ValueError) as exc:
                    log.debug("KV events of %s: %s", key, exc)
                finally:
                    kv.lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_RECONNECT_SECONDS)

    async def _read_events(self, session: aiohttp.ClientSession, url: str, kv: KVBlocks) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=None)
        async with session.get(url + "/kv_events", timeout=timeout, allow_redirects=False,
                               read_bufsize=MAX_LINE_BYTES // 2) as resp:
            if resp.status != 200:
                raise KVEventError(f"/kv_events answered {resp.status}")
            kv.reset()
            while True:
                # Past MAX_LINE_BYTES aiohttp raises ValueError("Chunk too big"): the line is refused.
                line = await resp.content.readline()
                if not line:
                    return
                if line.strip():
                    kv.apply(parse_batch(line), now=self._clock())
