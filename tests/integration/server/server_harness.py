"""A real API server on 127.0.0.1 (free port), run in a background event loop for each test.

Tests drive it over real HTTP with httpx; tokens are minted straight into the store. Teardown
stops the server (ending open watch streams), its loop and its thread, so nothing is left.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from laneway.server.app import bound_address, create_app, serve
from laneway.server.auth import create_token
from laneway.store.base import Store

START_TIMEOUT = 10.0


@dataclass
class RunningApi:
    url: str
    store: Store
    admin_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def token(self, role: str, *namespaces: str) -> str:
        return create_token(self.store, role=role, namespaces=namespaces)


class _ServerThread:
    def __init__(self, store: Store, app_options: dict[str, Any], serve_options: dict[str, Any]) -> None:
        self.store = store
        self.app_options = app_options
        self.serve_options = serve_options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-test-server", daemon=True)
        self.runner = None

    def start(self) -> str:
        self.thread.start()
        self.runner = asyncio.run_coroutine_threadsafe(
            serve(create_app(store=self.store, **self.app_options), "127.0.0.1", 0, **self.serve_options), self.loop
        ).result(START_TIMEOUT)
        return bound_address(self.runner)

    def stop(self) -> None:
        try:
            if self.runner is not None:
                asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(START_TIMEOUT)
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(), self.loop).result(START_TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(START_TIMEOUT)
            self.loop.close()


def run_api(
    store: Store, *, app_options: dict[str, Any] | None = None, serve_options: dict[str, Any] | None = None
) -> Iterator[RunningApi]:
    """The API over `store`; `app_options` go to `create_app`, `serve_options` to `serve`
    (shorter timeouts, for instance)."""
    server = _ServerThread(store, app_options or {}, serve_options or {})
    url = server.start()
    try:
        yield RunningApi(url=url, store=store, admin_token=create_token(store, role="admin"))
    finally:
        server.stop()
