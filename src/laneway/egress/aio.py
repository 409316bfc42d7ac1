"""The gateway's connections to team-written URLs: an aiohttp connector that judges every
address it is about to connect to, and one client session per egress policy.

`GuardedConnector` filters what aiohttp resolved (from its DNS cache or a fresh lookup, and
address literals too, which aiohttp never sends to a resolver) through the policy before it
connects; aiohttp then connects only to those addresses, so there is no second lookup to
rebind. A policy edit gives a fresh session (`EgressSessions`): keep-alive connections made
under the old policy are never reused for a new request; the old session is closed once the
requests already on it have had `drain_seconds` to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from laneway.egress.policy import EgressPolicy, EgressRefused

if TYPE_CHECKING:  # annotations only: older aiohttp releases in the supported range lack these names
    from aiohttp.abc import ResolveResult
    from aiohttp.tracing import Trace

log = logging.getLogger(__name__)

DRAIN_SECONDS = 600.0


class GuardedConnector(aiohttp.TCPConnector):
    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(self, host: str, port: int, traces: Sequence[Trace] | None = None) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces)
        try:
            allowed = set(self.policy.pick(host, port, [r["host"] for r in results]))
        except EgressRefused as exc:
            log.warning("egress refused: %s (resolved: %s)", exc.verdict.message, ", ".join(r["host"] for r in results))
            raise
        return [r for r in results if r["host"] in allowed]


class EgressSessions:
    """The session for the current policy; sessions of earlier policies drain, then close."""

    def __init__(self, *, connect_timeout: float, drain_seconds: float = DRAIN_SECONDS) -> None:
        self._connect_timeout = connect_timeout
        self._drain_seconds = drain_seconds
        self._policy: EgressPolicy | None = None
        self._session: aiohttp.ClientSession | None = None
        self._draining: set[asyncio.Task[None]] = set()

    def session(self, policy: EgressPolicy) -> aiohttp.ClientSession:
        # `is` first: the policy object only changes with the routing table, and comparing two
        # equal policies field by field on every proxied request costs more than the check itself.
        if self._session is None or (policy is not self._policy and policy != self._policy):
            old = self._session
            self._session = aiohttp.ClientSession(
                connector=GuardedConnector(policy, limit=0, ttl_dns_cache=300, enable_cleanup_closed=True),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                trust_env=False,
                # Shared by every team's requests: an upstream's cookie is never sent on another's.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._policy = policy
            if old is not None:
                task = asyncio.get_running_loop().create_task(self._drain(old))
                self._draining.add(task)
                task.add_done_callback(self._draining.discard)
        return self._session

    async def _drain(self, session: aiohttp.ClientSession) -> None:
        try:
            await asyncio.sleep(self._drain_seconds)
        finally:
            await session.close()

    async def close(self) -> None:
        for task in list(self._draining):
            task.cancel()
        for task in list(self._draining):
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._session is not None:
            await self._session.close()
            self._session = None
