"""Who may read the gateway's operational paths: the platform lane, with a laneway token.

`/metrics` names every namespace's services, endpoints, callers' key fingerprints and
traffic, which is the platform's to see, not a team's nor an anonymous caller's. It takes
the same bearer tokens as the control-plane API (`laneway token create --role platform`, or
the admin token) and checks them the same way, with `server.auth.check_token` against the
store, on every request and without a cache: a token revoked or expired through the API stops
working on the gateway at once. Prometheus sends one with `authorization: {credentials: ...}`
(or `bearer_token_file`) in its scrape config.

The check runs in a thread, since the store's calls block; `/metrics` is scraped every few
seconds, not on the inference path, so that costs nothing that matters.
"""

from __future__ import annotations

import asyncio

from laneway.gateway.errors import GatewayError
from laneway.server.auth import bearer_token, check_token
from laneway.store.base import Store

PLATFORM_ROLES = frozenset({"admin", "platform"})


class PlatformTokens:
    """Checks `Authorization: Bearer <laneway token>` for a platform or admin grant."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def require(self, authorization: str | None, *, what: str) -> None:
        """Return when the header carries a platform or admin token; else a 401/403
        GatewayError saying what `what` needs."""
        token = bearer_token(authorization)
        if token is None:
            raise GatewayError(
                401,
                f"{what} needs a laneway platform or admin token: send 'Authorization: Bearer <token>' "
                "(create one with 'laneway token create --role platform').",
                "missing_platform_token",
                {"WWW-Authenticate": 'Bearer realm="laneway"'},
            )
        checked = await asyncio.to_thread(check_token, self._store, token)
        record = checked.record
        if record is None:
            raise GatewayError(
                401,
                f"{what}: {checked.refusal}; use a platform or admin token.",
                "invalid_platform_token",
                {"WWW-Authenticate": 'Bearer realm="laneway", error="invalid_token"'},
            )
        if record.role not in PLATFORM_ROLES:
            raise GatewayError(
                403,
                f"{what} is for the platform lane: a {record.role} token may not read it; use a platform or admin token.",
                "forbidden",
            )
