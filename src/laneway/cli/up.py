"""`laneway up`: run the control plane of this machine in the foreground until Ctrl-C.

The composition lives in `laneway.up`; this command parses flags, wires SIGINT/SIGTERM to a
clean stop, and prints the banner. A second Ctrl-C while stopping falls back to Python's
default handling, so a stuck shutdown can still be interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import click

from laneway.cli.config import local_root
from laneway.cli.context import global_options
from laneway.cli.errors import Failure
from laneway.paths import DEFAULT_DATA_DIR
from laneway.redact import redact_logging
from laneway.up import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Running,
    UpError,
    UpOptions,
    banner,
    run_up,
)

LOG_LEVELS = ("debug", "info", "warning", "error")


async def _serve(options: UpOptions, *, default_data_dir: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        stop.set()
        for sig in signals:  # the next Ctrl-C interrupts a stuck shutdown the default way
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)

    def on_ready(running: Running) -> None:
        click.echo(banner(running, default_data_dir=default_data_dir), err=False)

    try:
        await run_up(options, stop=stop, on_ready=on_ready)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    click.echo("laneway stopped.")


@click.command()
@click.option("--data-dir", default=None, metavar="DIR", help="Where the store, admin token and logs live (else LANEWAY_DATA_DIR, else ~/.laneway).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the API and gateway listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port of the control-plane API.")
@click.option("--gateway-port", default=DEFAULT_GATEWAY_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port of the OpenAI-compatible gateway.")
@click.option("--store", "store_target", default=None, metavar="TARGET", help="The store to run on: a SQLite path, sqlite:///PATH, or postgresql://USER:PASSWORD@HOST:PORT/DB (shared by several processes). Default: the SQLite file in the data dir.")
@click.option("--lease-ttl", default=15.0, show_default=True, type=click.FloatRange(min=1.0), help="Seconds a dead controller leader's lease lasts before another process takes the controllers over.")
@click.option(
    "--admin-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LANEWAY_ADMIN_TOKEN_FILE",
    default=None,
    metavar="FILE",
    help="Use the admin token in FILE (e.g. a mounted Secret) instead of minting one for the data dir; give every process on one --store the same file (also LANEWAY_ADMIN_TOKEN_FILE).",
)
@click.option("--fresh", is_flag=True, help="Start from an empty fleet: remove the data dir's store, server.json and engine logs first (downloaded caches stay).")
@click.option("--agent-port", default=None, type=click.IntRange(0, 65535), help="Also serve the API over TLS on this port, with certificates laneway issues, for `laneway agent` on other machines (docs/machines.md).")
@click.option("--agent-tls-name", "agent_tls_names", multiple=True, metavar="NAME", help="A DNS name or address agents reach that port at, for its certificate (repeatable; the listen address, localhost and this host's name are always in).")
@click.option("--no-local-cluster", is_flag=True, help="Do not register this machine as the `local` InferenceCluster.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True, help="How much the control plane logs to stderr.")
@click.option(
    "--plan-one-at-a-time",
    is_flag=True,
    help="Plan one deployment per pass, re-reading the fleet each time, instead of every queued one together (for comparison).",
)
@click.pass_context
def up(
    ctx: click.Context,
    data_dir: str | None,
    host: str,
    port: int,
    gateway_port: int,
    store_target: str | None,
    lease_ttl: float,
    admin_token_file: Path | None,
    fresh: bool,
    agent_port: int | None,
    agent_tls_names: tuple[str, ...],
    no_local_cluster: bool,
    log_level: str,
    plan_one_at_a_time: bool,
) -> None:
    """Start laneway on this machine: API server, controllers and gateway, in one process.

    Runs in the foreground until Ctrl-C (or SIGTERM), then stops everything it started.
    """
    root = local_root(data_dir or global_options(ctx).data_dir, os.environ)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redact_logging()  # no signed URL, key or token reaches the log (see laneway.redact)
    if log_level != "debug":
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request is noise
    options = UpOptions(
        data_dir=root,
        host=host,
        port=port,
        gateway_port=gateway_port,
        local_cluster=not no_local_cluster,
        plan_in_batches=not plan_one_at_a_time,
        store=store_target,
        lease_ttl=lease_ttl,
        fresh=fresh,
        admin_token_file=admin_token_file,
        agent_port=agent_port,
        agent_names=agent_tls_names,
    )
    try:
        asyncio.run(_serve(options, default_data_dir=root == DEFAULT_DATA_DIR))
    except UpError as e:
        raise Failure(str(e)) from None
