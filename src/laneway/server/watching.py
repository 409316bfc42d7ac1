"""`?watch=true`: a list that keeps going, as newline-delimited JSON events.

Each line is `{"type": "ADDED"|"MODIFIED"|"DELETED"|"ERROR", "object": {...}}`, as the
Kubernetes API streams it. Without `resourceVersion` (or with "0") the watch first sends the
current objects as ADDED, then follows the store's revision stream from the revision that
list was consistent at; with one it follows from there. A revision the store no longer holds
answers 410 Gone before the stream starts, or an ERROR event carrying a 410 Status when the
watcher falls behind mid-stream: list again, then watch from the list's resourceVersion.

A stream ends when `timeoutSeconds` pass, the client goes away, or the server shuts down
(the app's stop event), so no watch outlives its server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from laneway.server.bodies import outgoing
from laneway.server.errors import ApiError
from laneway.server.targets import Target
from laneway.server.watchfilter import Shown, WatchFilter
from laneway.store.base import Gone, Store, WatchEvent

WATCH_CONTENT_TYPE = "application/json;stream=watch"
"""The media type of a watch stream, as Kubernetes declares its own: JSON, one event a line."""

log = logging.getLogger(__name__)

LIVENESS_CHECK_SECONDS = 1.0  # how often an idle stream looks whether its client is still there


@dataclass(frozen=True)
class WatchRequest:
    target: Target
    filter: WatchFilter
    since: int | None  # None: start from the current state
    timeout_seconds: float | None


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n").encode()


def _shown_line(shown: Shown) -> bytes:
    return _line(shown.type, outgoing(shown.object))


async def _check_retained(store: Store, kind: str, since: int) -> None:
    try:
        await asyncio.to_thread(store.events_since, since, kinds=frozenset({kind}), limit=1)
    except Gone as e:
        raise gone(
            f"resourceVersion {since} is too old ({e}); list again and watch from the list's resourceVersion"
        ) from None


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def stream_watch(request: web.Request, store: Store, watch_request: WatchRequest, stop: asyncio.Event) -> web.StreamResponse:
    """Answer a watch: validate where it starts (errors are ordinary Status replies), then stream."""
    from laneway.store.watch import watch  # the store's async follower of the revision stream

    kind = watch_request.target.kind.kind
    filt = watch_request.filter
    initial: list[Shown] = []
    since = watch_request.since
    if since is None:
        listed = await asyncio.to_thread(store.list, watch_request.target.kind.model, namespace=watch_request.target.namespace or None)
        initial = filt.seed(listed.items)
        since = listed.revision
    else:
        await _check_retained(store, kind, since)

    response = web.StreamResponse(status=200, headers={"Content-Type": WATCH_CONTENT_TYPE, "Cache-Control": "no-store"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    events = watch(store, kinds=frozenset({kind}), since=since)
    try:
        for shown in initial:
            await response.write(_shown_line(shown))
        await _follow(request, response, events, filt, stop, watch_request.timeout_seconds)
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; nothing to tell it
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write_eof()
    return response


async def _follow(
    request: web.Request,
    response: web.StreamResponse,
    events: AsyncIterator[WatchEvent],
    filt: WatchFilter,
    stop: asyncio.Event,
    timeout_seconds: float | None,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if timeout_seconds is None else loop.time() + timeout_seconds
    stop_task = asyncio.ensure_future(stop.wait())
    next_task: asyncio.Future[WatchEvent] | None = None
    try:
        while not _client_gone(request):
            wait = LIVENESS_CHECK_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            if next_task is None:
                next_task = asyncio.ensure_future(events.__anext__())
            waiting: set[asyncio.Future[Any]] = {next_task, stop_task}
            done, _ = await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if stop_task in done:
                return
            if next_task not in done:
                continue
            task, next_task = next_task, None
            try:
                event = task.result()
            except StopAsyncIteration:
                return
            except Gone as e:
                status = gone(f"the watch fell behind the store's retained history ({e}); list again and watch "
                              "from the list's resourceVersion").status()
                await response.write(_line("ERROR", status))
                return
            shown = filt.admit(event.type, event.object)
            if shown is not None:
                await response.write(_shown_line(shown))
    finally:
        stop_task.cancel()
        if next_task is not None:
            next_task.cancel()
            with contextlib.suppress(BaseException):
                await next_task
