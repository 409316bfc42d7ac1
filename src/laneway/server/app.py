"""The control-plane HTTP API: `create_app(store=...)` builds it, `serve(app, host, port)` runs it.

Paths follow Kubernetes so its habits and tools carry over:

    /apis/laneway.dev/v1alpha1/[namespaces/{ns}/]{plural}[/{name}[/status|/scale]]
    /api/v1/namespaces/{ns}/secrets[/{name}]      Secrets, in the core group as in Kubernetes
    /api/v1/namespaces[/{ns}]                     namespaces that hold something
    /apis/laneway.dev/v1alpha1/tokens[/{id}[/rotate]]   token management (tokens_api.py)
    /healthz, /version, /openapi/v3               public
    /ui/                                          the dashboard's static assets (dashboard.py), public;
                                                  its data comes from the paths above with a token
    /agent/v1/...                                 `laneway agent`'s door (agent_api.py), machine credentials only

The app holds no state of its own beyond the store and a stop event that ends open watch
streams when the server shuts down. It binds 127.0.0.1 unless told otherwise: exposing the
control plane is a decision, not a default.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from aiohttp import web

from laneway.api.meta import GROUP_VERSION
from laneway.server import discovery
from laneway.server.agent_api import AGENT_CA_HASH, add_agent_routes
from laneway.server.certificates import AgentTls
from laneway.server.context import BODY_TIMEOUT, STOP, STORE
from laneway.server.dashboard import add_dashboard_routes
from laneway.server.machines_api import add_machine_routes
from laneway.server.middleware import auth_middleware, error_middleware
from laneway.server.openapi import build_openapi
from laneway.server.resources import route_handlers
from laneway.server.targets import CORE_VERSION
from laneway.server.ticket_check import ticket_check
from laneway.server.token_admin import AdminFile
from laneway.server.tokens_api import ADMIN_FILE, token_item, token_rotate, tokens
from laneway.store.base import Store

DEFAULT_HOST = "127.0.0.1"
MAX_BODY_BYTES = 4 * 1024 * 1024
SHUTDOWN_TIMEOUT_SECONDS = 5.0
HEADER_TIMEOUT_SECONDS = 10.0
"""How long a connection may take to deliver a request's headers (and how long an idle
keep-alive connection stays open): a slowloris client is cut off after this."""
BODY_TIMEOUT_SECONDS = 30.0
"""How long a request may take to deliver its body (4 MiB at most) once its headers are in."""
LINGER_SECONDS = 2.0
"""How long the server keeps reading a body nobody will use (after a refusal or a 408) before
it closes the connection; aiohttp's default of 10 s would let a trickling client stay."""


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi())


async def _stop_streams(app: web.Application) -> None:
    app[STOP].set()


def _add_resource_routes(app: web.Application, prefix: str, group_version: str) -> None:
    collection, item, subresource = route_handlers(group_version)
    router = app.router
    router.add_route("*", f"{prefix}/namespaces/{{namespace}}/{{plural}}", collection)
    router.add_route("*", f"{prefix}/namespaces/{{namespace}}/{{plural}}/{{name}}", item)
    router.add_route("*", f"{prefix}/namespaces/{{namespace}}/{{plural}}/{{name}}/{{subresource}}", subresource)
    router.add_route("*", f"{prefix}/{{plural}}", collection)
    router.add_route("*", f"{prefix}/{{plural}}/{{name}}", item)
    router.add_route("*", f"{prefix}/{{plural}}/{{name}}/{{subresource}}", subresource)


def create_app(
    *,
    store: Store,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
    admin_token_path: Path | None = None,
    agent_tls: AgentTls | None = None,
) -> web.Application:
    """The API over `store`. Every `/api` and `/apis` request needs a bearer token the store knows.

    `admin_token_path` is where `laneway up` keeps the data directory's admin token, so that
    rotating it (`laneway token rotate-admin`) writes the successor there. `agent_tls` is the
    CA laneway issued for the agents' TLS door (`laneway up --agent-port`), whose fingerprint
    join tokens come with."""
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=max_body_bytes)
    app[STORE] = store
    app[BODY_TIMEOUT] = body_timeout
    app[ADMIN_FILE] = AdminFile(admin_token_path)
    app[AGENT_CA_HASH] = agent_tls.ca_hash if agent_tls is not None else ""
    app[STOP] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)

    router = app.router
    router.add_get("/healthz", discovery.healthz)
    router.add_get("/version", discovery.version)
    router.add_get("/openapi/v3", _openapi)

    group_prefix = f"/apis/{GROUP_VERSION}"
    router.add_get("/apis", discovery.group_list)
    router.add_get(group_prefix, discovery.resource_list(GROUP_VERSION))
    router.add_route("*", f"{group_prefix}/tokens", tokens)
    router.add_route("*", f"{group_prefix}/tokens/{{id}}", token_item)
    router.add_route("*", f"{group_prefix}/tokens/{{id}}/rotate", token_rotate)
    router.add_route("*", f"{group_prefix}/ticketchecks", ticket_check)
    router.add_get(f"{group_prefix}/whoami", discovery.whoami)
    add_machine_routes(app, group_prefix)
    _add_resource_routes(app, group_prefix, GROUP_VERSION)

    core_prefix = f"/api/{CORE_VERSION}"
    router.add_get("/api", discovery.core_versions)
    router.add_get(core_prefix, discovery.resource_list(CORE_VERSION))
    router.add_get(f"{core_prefix}/namespaces", discovery.namespaces)
    router.add_get(f"{core_prefix}/namespaces/{{namespace}}", discovery.namespace)
    _add_resource_routes(app, core_prefix, CORE_VERSION)
    add_dashboard_routes(app)
    add_agent_routes(app, agent_tls)  # /agent/v1: outside /api and /apis, each handler authenticates its caller
    return app


async def serve(
    app: web.Application, host: str = DEFAULT_HOST, port: int = 0, *, header_timeout: float = HEADER_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> web.AppRunner:
    """Start serving `app` on host:port (port 0 picks a free one); the caller owns the runner
    and stops it with `await runner.cleanup()`, which also ends open watch streams.

    `header_timeout` is aiohttp's keep-alive timeout, which also runs from the moment a
    connection opens: a connection that has not completed a request by then is closed, so
    headers sent a byte at a time cannot hold it. A request being served (a watch stream
    included) is never cut by it."""
    runner = web.AppRunner(
        app, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS, keepalive_timeout=header_timeout, lingering_time=LINGER_SECONDS
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_address(runner: web.AppRunner, *, scheme: str = "http") -> str:
    """`http://host:port` of the first socket the runner listens on (port 0 resolved)."""
    host, port = runner.addresses[0][:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
