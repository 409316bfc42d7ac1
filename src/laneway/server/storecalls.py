"""Calling the (blocking) store from handlers: off the event loop, refusals as API errors.

The store's calls block (SQLite fsyncs every commit); run on the loop they would stall every
other request and, under `laneway up`, the gateway sharing that loop. A store refusal
(NotFound, AlreadyExists, Conflict, Invalid) becomes the API error with the store's message;
a real store fault stays an exception, logged and answered 500 by the error middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from laneway.server.errors import ApiError
from laneway.store.base import StoreError

T = TypeVar("T")


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    try:
        yield
    except StoreError as e:
        if e.status >= 500:
            raise
        raise ApiError(e.status, e.reason, str(e)) from None


async def run_store(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)` on a worker thread, with store refusals as API errors."""
    with store_errors():
        return await asyncio.to_thread(call, *args, **kwargs)
