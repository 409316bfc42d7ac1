"""`laneway up`: the whole control plane of one machine, in one asyncio process.

It opens the store (the SQLite file in the data directory, or the one `--store` names: a
PostgreSQL database that several `laneway up` processes share), makes sure the admin token
exists, registers the `local` cluster that describes this machine (unless told not to), and
starts, in this order: the API server, the gateway, and the controller manager with the
drivers that run replicas. It then writes `server.json` so the CLI finds it, prints where
everything is, and runs until `stop` is set (SIGINT/SIGTERM in the CLI).

Lifecycle: every part started here is stopped here, whatever happens (an `AsyncExitStack`
owns them), in the order that drops no request: `server.json` is removed first so no new
client finds a stopping server; then the gateway stops accepting and lets the requests in
flight finish (streams included, at most `GatewayConfig.shutdown_grace`); only then does the
manager stop, and with it the engines; the API server stops last and the store closes after
it. An idle `laneway up` stops in well under two seconds. A port already taken fails before
anything else has started serving, with a message naming the flag to change.

The drivers (`laneway.drivers.registry.DriverSet`) are closed after the manager stops, which
stops every engine process they started. Engine processes a previous run left behind are
already gone (they die with their parent), so their endpoints and Ready statuses are dropped
before the gateway routes (`laneway.drivers.local.bootstrap.forget_stale_engines`).

Several processes on one PostgreSQL store: every process serves the API (writes stay
consistent through resourceVersions checked in the database) and its own gateway; the
controllers run in whichever process holds the leader lease, writing through a `FencedStore`
so a paused former leader cannot write. Engines of Local clusters are children of the leader
(they die with it), so on a shared store the stale-engine sweep runs when a term of
leadership begins, not at startup, where it would drop the live leader's endpoints.

Threads: the API server and the gateway share this process's event loop; the controller
manager and the drivers run on a loop of their own in one thread (`control.threaded`), since
controllers call the blocking store directly. They meet only through the thread-safe store.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from laneway import __version__
from laneway.paths import DataDir

if TYPE_CHECKING:
    from laneway.gateway.server import GatewayHandle
    from laneway.server.certificates import AgentTls
    from laneway.store.base import Store

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470
DEFAULT_GATEWAY_PORT = 8471


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    gateway_port: int = DEFAULT_GATEWAY_PORT
    local_cluster: bool = True  # register this machine as the `local` InferenceCluster
    plan_in_batches: bool = True  # plan every queued deployment in one pass (see control.deployment)
    store: str | None = None  # a store target (open_store); None: the SQLite file in data_dir
    lease_ttl: float = 15.0  # seconds before a dead leader's controllers are taken over
    fresh: bool = False  # start from an empty store (see `start_fresh`)
    admin_token_file: Path | None = None  # the operator's admin token, shared by every process on one store
    agent_port: int | None = None  # serve the API over TLS here too, with certificates laneway issues (agents' door)
    agent_names: tuple[str, ...] = ()  # extra names or addresses agents reach that door at


@dataclass(frozen=True)
class Running:
    """Where a running `laneway up` listens, as `server.json` records it."""

    api: str
    gateway: str | None
    data_dir: DataDir
    local_cluster: str | None
    store: str = ""
    agents: str | None = None  # the TLS door for `laneway agent`, when served
    agents_ca_hash: str = ""

    def server_info(self) -> dict[str, str]:
        info = {"server": self.api, "version": __version__, "pid": str(os.getpid())}
        if self.gateway:
            info["gateway"] = self.gateway
        if self.agents:
            info["agentServer"] = self.agents
            info["agentCaCertHash"] = self.agents_ca_hash
        return info


class UpError(Exception):
    """`laneway up` cannot start; the message says what to change."""


def _bind_error(error: OSError, *, what: str, host: str, port: int, flag: str) -> UpError:
    if error.errno == errno.EADDRINUSE:
        return UpError(
            f"the {what} port {host}:{port} is already in use (another `laneway up`?); "
            f"stop what holds it or choose another port with {flag} N"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return UpError(f"not allowed to listen on {host}:{port} for the {what}; choose a port above 1024 with {flag} N")
    if error.errno == errno.EADDRNOTAVAIL:
        return UpError(f"{host} is not an address of this machine; use --host 127.0.0.1 (or another local address)")
    return UpError(f"cannot listen on {host}:{port} for the {what} ({error.strerror or error}); try another {flag}")


def agent_tls_names(options: UpOptions) -> list[str]:
    """The names the agents' certificate carries: the listen address (unless a wildcard), the
    loopback names, this host's name, and those given with --agent-tls-name."""
    import socket

    names = [options.host] if options.host not in ("0.0.0.0", "::", "") else []
    return [*names, *options.agent_names, "127.0.0.1", "localhost", socket.gethostname()]


async def _start_api(stack: AsyncExitStack, store: Store, options: UpOptions, data: DataDir) -> tuple[str, AgentTls | None, str | None]:
    """The API's address; with --agent-port, also the certificates issued for the agents' TLS
    door and that door's address (the same API, over TLS)."""
    import ssl

    from laneway.server.app import bound_address, create_app, serve
    from laneway.server.certificates import issue

    tls = issue(data.root / "tls", agent_tls_names(options)) if options.agent_port is not None else None
    try:
        runner = await serve(create_app(store=store, admin_token_path=data.admin_token_path, agent_tls=tls), options.host, options.port)
    except OSError as e:
        raise _bind_error(e, what="API", host=options.host, port=options.port, flag="--port") from None
    stack.push_async_callback(runner.cleanup)
    if tls is None or options.agent_port is None:
        return bound_address(runner), None, None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    try:
        agents = await serve(create_app(store=store, admin_token_path=data.admin_token_path, agent_tls=tls), options.host,
                             options.agent_port, ssl_context=context)
    except OSError as e:
        raise _bind_error(e, what="agents' TLS", host=options.host, port=options.agent_port, flag="--agent-port") from None
    stack.push_async_callback(agents.cleanup)
    return bound_address(runner), tls, bound_address(agents, scheme="https")


async def _start_gateway(
    stack: AsyncExitStack, store: Store, options: UpOptions, *, shared: bool = False
) -> tuple[str, GatewayHandle]:
    """The gateway of this process and its handle; on a shared store its rate limits are drawn
    from budgets in the store, so they hold across every process's gateway."""
    from laneway.gateway.server import start_gateway

    try:
        handle = await start_gateway(store=store, host=options.host, port=options.gateway_port, shared_limits=shared)
    except OSError as e:
        raise _bind_error(e, what="gateway", host=options.host, port=options.gateway_port, flag="--gateway-port") from None
    stack.push_async_callback(handle.stop)
    address = str(handle.address)
    return (address if address.startswith(("http://", "https://")) else "http://" + address), handle


def _register_local_cluster(store: Store) -> str:
    from laneway.drivers.local.bootstrap import register_local_cluster

    _, cluster = register_local_cluster(store)
    return cluster.metadata.name


def _forget_stale_engines(store: Store) -> None:
    """Endpoints and Ready statuses of Local replicas left by a previous run point at engines
    that no longer run; drop them before the gateway routes (see the bootstrap module)."""
    from laneway.drivers.local.bootstrap import forget_stale_engines

    forget_stale_engines(store)


async def _start_manager(
    stack: AsyncExitStack,
    store: Store,
    data: DataDir,
    gateway: str | None,
    *,
    plan_in_batches: bool = True,
    lease_ttl: float = 15.0,
    shared: bool = False,
) -> asyncio.Future[None]:
    """Start the controller manager on a thread and loop of its own (see control.threaded:
    its blocking store calls must not stall the API and the gateway on this loop)."""
    from laneway.control.base import ControlContext
    from laneway.control.manager import Manager, ManagerOptions, default_identity
    from laneway.control.registry import build_controllers
    from laneway.control.threaded import ManagerThread
    from laneway.drivers.registry import DriverSet

    # Existing (Kubernetes) clusters: their kubeconfig Secrets live in the store.
    drivers = DriverSet(logs_dir=data.logs_dir, cache_dir=data.cache_dir, data_dir=data.root, store=store)
    from laneway.store.fencing import FencedStore

    fenced = FencedStore(store)
    ctx = ControlContext(
        store=fenced, data_dir=data, gateway_address=gateway, clock=time.time, drivers=drivers, plan_in_batches=plan_in_batches
    )
    renew = min(5.0, lease_ttl / 3)
    options = ManagerOptions(lease_ttl=lease_ttl, renew_interval=renew, renew_deadline=max(renew, lease_ttl - renew), retry_interval=min(2.0, renew))
    on_term = _forget_stale_engines if shared else None
    manager = Manager(store, build_controllers(ctx), identity=default_identity(), options=options, fenced=fenced, on_term=on_term)
    runner = ManagerThread(manager, drivers=drivers)  # closes the drivers after the manager: engines go last
    finished = runner.start()
    stack.push_async_callback(runner.stop)
    return finished


async def _stop_gateway_first(handle: GatewayHandle) -> None:
    began = time.monotonic()
    await handle.stop()
    log.info("gateway stopped: no new requests, those in flight finished (%.1fs); stopping engines", time.monotonic() - began)


def _remove_server_info(data: DataDir, info: dict[str, str]) -> None:
    """Remove server.json only if it is still ours (another `up` may have replaced it)."""
    if data.read_server_info() == info:
        try:
            data.server_info_path.unlink()
        except FileNotFoundError:
            pass


def start_fresh(options: UpOptions, data: DataDir) -> list[Path]:
    """Empty the data directory's state before starting (`--fresh`); the paths removed.

    Why: objects applied earlier (by the demo, or an experiment) otherwise come back with every
    start. Refused while another `laneway up` runs on the directory, and with a `--store` other
    than the data directory's own SQLite file, which this would not clear.
    """
    if options.store is not None:
        raise UpError(
            f"--fresh clears the data directory's own SQLite store, not --store {options.store}; "
            "drop --store, or empty that store yourself"
        )
    pid = data.running_pid()
    if pid is not None:
        raise UpError(
            f"--fresh would delete the store of the laneway running as pid {pid} on {data.root}; "
            "stop it first (Ctrl-C in its terminal)"
        )
    return data.clear_state()


async def run_up(options: UpOptions, *, stop: asyncio.Event, on_ready: Callable[[Running], None]) -> None:
    """Start everything, call `on_ready`, run until `stop` is set, then stop everything.
    Raises UpError when a part cannot start (nothing is left running)."""
    from laneway.server.auth import AdminTokenError, ensure_admin_token, read_given_admin_token
    from laneway.store import describe_target, is_postgres, open_store

    data = DataDir(options.data_dir).ensure()
    if options.fresh:
        removed = start_fresh(options, data)
        log.info("--fresh: removed %s", ", ".join(str(p) for p in removed) or "nothing (already empty)")
    shared = options.store is not None and is_postgres(options.store)
    try:
        given = read_given_admin_token(options.admin_token_file) if options.admin_token_file else None
    except AdminTokenError as e:
        raise UpError(f"--admin-token-file: {e}") from None
    store = open_store(options.store or data.store_path)
    try:
        try:
            ensure_admin_token(store, data, given=given, source=str(options.admin_token_file or ""))
        except AdminTokenError as e:
            raise UpError(f"--admin-token-file: {e}") from None
        async with AsyncExitStack() as stack:
            api, tls, agents = await _start_api(stack, store, options, data)
            if not shared:
                _forget_stale_engines(store)
            gateway, gateway_handle = await _start_gateway(stack, store, options, shared=shared)
            local_cluster = _register_local_cluster(store) if options.local_cluster else None
            manager_task = await _start_manager(
                stack, store, data, gateway, plan_in_batches=options.plan_in_batches, lease_ttl=options.lease_ttl, shared=shared
            )
            # Unwound before the manager: the gateway stops accepting and finishes what is in
            # flight while the engines still run (stopping twice is stopping once).
            stack.push_async_callback(_stop_gateway_first, gateway_handle)

            running = Running(api=api, gateway=gateway, data_dir=data, local_cluster=local_cluster, store=describe_target(options.store or data.store_path),
                              agents=agents, agents_ca_hash=tls.ca_hash if tls is not None else "")
            info = running.server_info()
            data.write_server_info(info)
            stack.callback(_remove_server_info, data, info)
            on_ready(running)

            stopped = asyncio.create_task(stop.wait())
            waiting: set[asyncio.Future[Any]] = {stopped, manager_task}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if manager_task in done and not stopped.done():
                stopped.cancel()
                error = None if manager_task.cancelled() else manager_task.exception()
                raise UpError(f"the controller manager stopped unexpectedly: {error!r}; see the log above")
            log.info("stopping laneway")
    finally:
        store.close()


def banner(running: Running, *, default_data_dir: bool) -> str:
    """What `laneway up` prints once everything listens: where things are and what to do next."""
    from laneway.server.dashboard import dashboard_url

    d = running.data_dir
    env = "" if default_data_dir else f"  export LANEWAY_DATA_DIR={d.root}   # so the CLI finds this instance\n"
    lines = [
        f"laneway {__version__} is up.",
        f"  API         {running.api}",
        f"  dashboard   {dashboard_url(running.api)}   (sign in with a token)",
        f"  gateway     {running.gateway + '   (OpenAI-compatible: /v1/chat/completions, /v1/models)' if running.gateway else 'not running'}",
        f"  local       {'cluster ' + repr(running.local_cluster) + ' (this machine)' if running.local_cluster else 'no local cluster registered'}",
        f"  agents      {running.agents}   (TLS; laneway agent --ca-cert-hash {running.agents_ca_hash})" if running.agents else None,
        f"  data dir    {d.root}",
        f"  store       {running.store or d.store_path}",
        f"  admin token {d.admin_token_path}   (the CLI uses it by default)",
        "",
        "Next, in another terminal:",
        env.rstrip("\n") if env else None,
        "  laneway apply -f examples/platform/    # publish capacity: gateway, classes, clusters",
        "  laneway apply -f examples/models/      # declare a model: deployment and service",
        "  laneway get md,ms -n ml-team           # watch them come up (the examples' namespace)",
        "  laneway token create --role team --namespace ml-team   # a token for an ML team",
        "",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(line for line in lines if line is not None)
