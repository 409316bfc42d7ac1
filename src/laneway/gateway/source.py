"""Keeps the proxy's routing table current: list the store, then follow its revision stream.

Level-triggered like a controller: any write to a watched kind marks the table dirty, and the
rebuilder lists everything again (after a short debounce, so a burst of writes costs one
rebuild) and swaps the new table in with one assignment. Listing rather than patching the old
table means a missed or reordered event can never leave the table wrong. `Gone` (the store
compacted past our position) simply restarts the list-then-watch cycle.

The store may go away (PostgreSQL restarting, a network partition). The gateway then keeps
serving on its last table: requests are routed as before, nothing is dropped, and it says so,
once, in a warning log line ("store unreachable; serving on the last routing table") and in
the `laneway_gateway_store_up` gauge (0), with `laneway_gateway_table_revision` showing which
revision it serves. It keeps retrying; when the store answers again it lists everything, logs
that it caught up, and the gauge returns to 1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.gateway.table import RoutingTable, build_table
from laneway.gateway.tasks import start_task, stop_task
from laneway.store.base import Store, StoreUnavailable
from laneway.store.watch import watch

log = logging.getLogger(__name__)

WATCHED = frozenset({"ModelService", "ModelEndpoint", "Secret", "InferenceGateway"})


def snapshot(store: Store) -> RoutingTable:
    """Build a table from one listing of every watched kind (blocking: run it in a thread)."""
    services = store.list(ModelService)
    endpoints = store.list(ModelEndpoint)
    secrets = store.list(Secret)
    gateways = store.list(InferenceGateway)
    return build_table(
        services=services.items,
        endpoints=endpoints.items,
        secrets=secrets.items,
        gateways=gateways.items,
        revision=min(services.revision, endpoints.revision, secrets.revision, gateways.revision),
    )


class TableSource:
    """Owns two tasks (watcher and rebuilder); `stop()` ends both."""

    def __init__(
        self,
        store: Store,
        apply: Callable[[RoutingTable], None],
        *,
        debounce: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._store = store
        self._apply_table = apply
        self._debounce = debounce
        self._store_up = Gauge(
            "laneway_gateway_store_up",
            "1 while the gateway reads the store; 0 while it serves on its last routing table.",
            registry=registry,
        )
        self._revision = Gauge(
            "laneway_gateway_table_revision", "The store revision the routing table was built at.", registry=registry
        )
        self._store_up.set(1)
        self._reachable = True
        self._served_revision = 0
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.address_hint: str | None = None

    async def start(self) -> RoutingTable:
        """Load the first table (so the gateway never serves with an empty one), then follow."""
        table = await asyncio.to_thread(snapshot, self._store)
        self._apply(table)
        self._tasks = [
            start_task(self._watch(table.revision), name="gateway-watch"),
            start_task(self._rebuild(), name="gateway-rebuild"),
        ]
        return table

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            await stop_task(t)
        self._tasks = []

    def _apply(self, table: RoutingTable) -> None:
        self._apply_table(table)
        self._served_revision = table.revision
        self._revision.set(table.revision)
        self._store_reachable()

    def _store_reachable(self) -> None:
        if not self._reachable:
            log.warning("gateway: the store answers again; caught up at revision %d", self._served_revision)
        self._reachable = True
        self._store_up.set(1)

    def _store_unreachable(self, exc: Exception) -> None:
        if self._reachable:
            log.warning(
                "gateway: store unreachable (%s); serving on the last routing table (revision %d) until it returns",
                str(exc).strip() or type(exc).__name__,
                self._served_revision,
            )
        self._reachable = False
        self._store_up.set(0)

    async def _watch(self, since: int) -> None:
        while True:
            try:
                async for _event in watch(self._store, kinds=WATCHED, since=since):
                    self._dirty.set()
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                self._store_unreachable(exc)
                await asyncio.sleep(1.0)
            except Exception as exc:  # Gone, or a store hiccup: list again and resume from there
                log.info("gateway watch restarts after %s", type(exc).__name__)
                await asyncio.sleep(0.5)
            self._dirty.set()
            try:
                since = await asyncio.to_thread(self._store.revision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is away: keep the position, retry the watch
                if isinstance(exc, StoreUnavailable):
                    self._store_unreachable(exc)
                await asyncio.sleep(1.0)

    async def _rebuild(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._debounce)
            self._dirty.clear()
            try:
                table = await asyncio.to_thread(snapshot, self._store)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                self._store_unreachable(exc)
                await asyncio.sleep(1.0)
                self._dirty.set()
                continue
            except Exception:
                log.exception("gateway could not rebuild its routing table; keeping the previous one")
                await asyncio.sleep(1.0)
                self._dirty.set()
                continue
            self._apply(table)
