"""`laneway gateway`: run the inference gateway alone against a store.

`laneway up` already runs a gateway; this command runs more of them (all reading the same
store) or runs the data plane apart from the control plane.

`--workers N` runs N gateway processes on one port (SO_REUSEPORT: the kernel spreads incoming
connections over them), so one machine's gateway uses N cores. This process only supervises:
it starts the workers, restarts one that dies (after a short pause), and on SIGINT/SIGTERM
stops them all and waits for them. Each worker has its own identity (host, port, pid), so their
per-gateway figures in ModelService status stay apart and add up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time

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


async def _serve(target: str, host: str, port: int, *, reuse_port: bool = False, limit_share: float = 1.0) -> None:
    from laneway.gateway.server import start_gateway
    from laneway.store import describe_target, open_store

    store = open_store(target)
    try:
        identity = f"{socket.gethostname()}-{port}-{os.getpid()}" if reuse_port else None
        try:
            handle = await start_gateway(
                store=store, host=host, port=port, identity=identity, reuse_port=reuse_port,
                shared_limits=True, limit_share=limit_share,
            )
        except OSError as e:
            raise Failure(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from None
        click.echo(f"gateway listening on {handle.address} (store: {describe_target(target)})", err=reuse_port)
        if not reuse_port:
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
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Gateway processes sharing the port (SO_REUSEPORT), one per core to use.")
@click.option("--limit-share", type=click.FloatRange(0, 1, min_open=True), default=None, metavar="FRACTION", help="The part of each rate limit this process admits while the store is unreachable (default 1/workers; give 1/N for N gateway processes in all).")
@click.option("--reuse-port", is_flag=True, hidden=True, help="Bind with SO_REUSEPORT (what each of --workers' processes does).")
@click.pass_context
def gateway(
    ctx: click.Context,
    data_dir_flag: str | None,
    store: str | None,
    host: str,
    port: int,
    workers: int,
    limit_share: float | None,
    reuse_port: bool,
) -> None:
    """Run the inference gateway against a store until interrupted.

    Serves every ModelService at /NAMESPACE/SERVICE/... and by model name at /v1/...,
    with Prometheus metrics at /metrics.
    """
    target = _store_target(ctx, store, data_dir_flag)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redact_logging()  # no signed URL, key or token reaches the log (see laneway.redact)
    share = limit_share if limit_share is not None else 1.0 / workers
    if workers > 1:
        _supervise(target, host, port, workers, share)
        return
    asyncio.run(_serve(target, host, port, reuse_port=reuse_port, limit_share=share))


_RESTART_PAUSE = 1.0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _worker(target: str, host: str, port: int, share: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--store", target,
               "--host", host, "--port", str(port), "--reuse-port", "--limit-share", repr(share)]
    return subprocess.Popen(command)


def _supervise(target: str, host: str, port: int, workers: int, share: float) -> None:
    """Run `workers` gateway processes on one port until SIGINT/SIGTERM; restart any that dies."""
    port = port or _free_port(host)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [_worker(target, host, port, share) for _ in range(workers)]
    click.echo(f"gateway: {workers} worker processes on http://{host}:{port} (store: {_describe(target)})")
    click.echo(f"  OpenAI base URL: http://{host}:{port}/v1   per service: http://{host}:{port}/NAMESPACE/SERVICE/v1")
    try:
        while not stopping:
            for i, proc in enumerate(procs):
                if proc.poll() is not None and not stopping:
                    click.echo(f"gateway worker {proc.pid} exited with {proc.returncode}; starting another", err=True)
                    time.sleep(_RESTART_PAUSE)
                    procs[i] = _worker(target, host, port, share)
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _describe(target: str) -> str:
    from laneway.store import describe_target

    return describe_target(target)
