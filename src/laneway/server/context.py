"""What handlers share: the store, the stop event of streams, and the caller's grant.

Kept in one place so handlers read `store_of(request)` rather than reaching into the app by
string keys, and a type checker sees what each holds.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from laneway.server.errors import unauthorized
from laneway.store.base import Store, TokenRecord

STORE: web.AppKey[Store] = web.AppKey("laneway_store", Store)
STOP: web.AppKey[asyncio.Event] = web.AppKey("laneway_stop", asyncio.Event)
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("laneway_body_timeout", float)
GRANT: web.RequestKey[TokenRecord] = web.RequestKey("laneway_grant", TokenRecord)


def store_of(request: web.Request) -> Store:
    return request.app[STORE]


def body_timeout_of(request: web.Request) -> float:
    return request.app[BODY_TIMEOUT]


def stop_event_of(request: web.Request) -> asyncio.Event:
    return request.app[STOP]


def grant_of(request: web.Request) -> TokenRecord:
    grant: TokenRecord | None = request.get(GRANT)
    if grant is None:  # every API route sits behind the auth middleware, so this is defensive
        raise unauthorized("this request carries no bearer token: send Authorization: Bearer <token>")
    return grant
