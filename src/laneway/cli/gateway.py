"""`laneway gateway`: run the inference gateway alone against a store.

`laneway up` already runs a gateway; this command runs more of them (one per process, each on
its own port, all reading the same store) or runs the data plane apart from the control plane.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from laneway.cli.context import global_options
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.paths import DataDir, data_dir
from laneway.redact import redact_logging


def _store_target(ctx: click.Context, store: str | None, data_dir_flag: str | None) -> str:
    if store:
        return store
    root = data_dir(data_dir_flag or global_options(ctx).data_dir)
    path = DataDir(root).store_path
    if not path.exists():
        raise Failure(
            f"no store at {path}: start `laneway up --data-dir {root}` first, or name one with --store sqlite:///PATH",
            EXIT_USAGE,
        )
    return str(path)


async def _serve(target: str, host: str, port: int) -> None:
    from laneway.gateway.server import start_gateway
    from laneway.store import describe_target, open_store

    store = open_store(target)
    try:
        try:
            handle = await start_gateway(store=store, host=host, port=port)
        except OSError as e:
            raise Failure(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from None
        click.echo(f"gateway listening on {handle.address} (store: {describe_target(target)})")
        click.echo(f"  OpenAI base URL: {handle.address}/v1   per service: {handle.address}/NAMESPACE/SERVICE/v1")
        click.echo(f"  metrics: {handle.address}/metrics (needs a platform token)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            await stop.wait()
        finally:
            await handle.stop()
    finally:
        store.close()


@click.command()
@click.option("--data-dir", "data_dir_flag", default=None, metavar="DIR", help="Data directory whose store to serve (else LANEWAY_DATA_DIR, else ~/.laneway).")
@click.option("--store", default=None, metavar="TARGET", help="A store to serve instead: a path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8480, show_default=True, help="Port to listen on (0 picks a free one).")
@click.pass_context
def gateway(ctx: click.Context, data_dir_flag: str | None, store: str | None, host: str, port: int) -> None:
    """Run the inference gateway against a store until interrupted.

    Serves every ModelService at /NAMESPACE/SERVICE/... and by model name at /v1/...,
    with Prometheus metrics at /metrics.
    """
    target = _store_target(ctx, store, data_dir_flag)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redact_logging()  # no signed URL, key or token reaches the log (see laneway.redact)
    asyncio.run(_serve(target, host, port))
