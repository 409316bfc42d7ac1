"""`laneway agent`: make this machine part of a Machines cluster and run what it is given.

    laneway agent --server https://laneway.example:8080 --token JOIN-TOKEN --pool h200

The first start exchanges the join token for this machine's own credential, kept in its data
directory (`--data-dir`, default ~/.laneway-agent); later starts use that and need no token.
It runs until SIGINT or SIGTERM, stopping its engines on the way out; it exits 1 when the
control plane refuses it (a used or expired token, a revoked machine). See docs/machines.md.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from laneway.cli.errors import EXIT_REFUSED, Failure
from laneway.drivers.local.discovery import Nvml


def _nvml(path: Path | None) -> Nvml | None:
    if path is None:
        return None
    from laneway.testing.nvml import RecordedNvml

    try:
        return RecordedNvml.from_file(path)
    except (OSError, ValueError) as e:
        raise Failure(f"--nvml-fixture {path}: cannot read a recorded NVML reading ({e})") from None


@click.command("agent")
@click.option("--server", "server_url", required=True, metavar="URL", help="The control plane's API address (http:// or https://).")
@click.option("--token", "join_token", default=None, envvar="LANEWAY_JOIN_TOKEN", metavar="TOKEN",
              help="Join token from `laneway cluster join-token` (first start only; else LANEWAY_JOIN_TOKEN).")
@click.option("--cluster", default=None, metavar="NAME", help="The cluster to join; refused unless the token is for it.")
@click.option("--pool", default=None, metavar="NAME", help="The node pool to join; else the first whose class this machine's devices cover.")
@click.option("--name", "machine", default="", metavar="NAME", help="This machine's name in the cluster [default: the host name].")
@click.option("--address", default="127.0.0.1", show_default=True, metavar="HOST",
              help="The address the gateway reaches this machine's engines at.")
@click.option("--listen", default=None, metavar="HOST",
              help="The local address the engines' doors listen on [default: --address]; e.g. 0.0.0.0 behind NAT.")
@click.option("--ca-cert-hash", default=None, metavar="sha256:HEX",
              help="With an https:// --server: the fingerprint of laneway's agents CA that `cluster join-token` printed; "
                   "the agent trusts the server only with it.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path.home() / ".laneway-agent",
              show_default=True, help="Where the credential, engine working directories, logs and caches live.")
@click.option("--nvml-fixture", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read devices from a recorded NVML reading instead of the hardware (tests, demos).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def agent(server_url: str, join_token: str | None, cluster: str | None, pool: str | None, machine: str, address: str,
          listen: str | None, ca_cert_hash: str | None, data_dir: Path, nvml_fixture: Path | None, log_level: str) -> None:
    """Join this machine to a Machines cluster and run the engines the control plane assigns it."""
    from laneway.drivers.machines.agent import Agent, AgentConfig, AgentRefused, check_data_dir
    from laneway.drivers.machines.protocol import check_address

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        check_address(address)
    except ValueError as e:
        raise Failure(f"--address: {e}") from None
    if not server_url.startswith(("http://", "https://")):
        raise Failure(f"--server {server_url!r} must be an http:// or https:// URL")
    if ca_cert_hash is not None and not (server_url.startswith("https://") and ca_cert_hash.startswith("sha256:")):
        raise Failure("--ca-cert-hash takes sha256:HEX (as `laneway cluster join-token` prints it) and an https:// --server")
    config = AgentConfig(server=server_url, data_dir=check_data_dir(data_dir), join_token=join_token, cluster=cluster,
                         pool=pool, machine=machine, address=address, listen=listen or address, ca_cert_hash=ca_cert_hash,
                         nvml=_nvml(nvml_fixture))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Agent(config).run(stop)

    try:
        asyncio.run(main())
    except AgentRefused as e:
        raise Failure(f"the control plane refused this agent: {e}", EXIT_REFUSED) from None
