"""The simulator's HTTP server: vLLM's OpenAI routes plus Anthropic's `/v1/messages` on aiohttp.

Handlers are thin: parse (pure, `requests`), ask the fault plan, submit a sequence to the
batching engine, and write its tokens out in the shape the API uses (pure, `responses`). A
client that goes away aborts its sequence, which frees its slot for the next waiting request
(the runner is built with `handler_cancellation=True`, and every handler aborts in `finally`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from laneway.engines.sim import responses as R
from laneway.engines.sim.batching import BatchingEngine, SimSequence
from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.faults import CRASH_EXIT_CODE, FaultPlan
from laneway.engines.sim.metrics import CONTENT_TYPE, SimMetrics
from laneway.engines.sim.requests import (
    GenerationRequest,
    RequestError,
    decode_json,
    parse_chat,
    parse_completion,
    parse_embedding,
    parse_messages,
    plan_output,
)
from laneway.engines.sim.tokens import output_tokens
from laneway.gateway.kv_index import AllBlocksCleared, BlockStored, KVEvent, encode_batch
from laneway.gateway.prefix import block_hashes, blocks_needed
from laneway.gateway.request_view import prompt_of

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024
EVENT_QUEUE = 1024
CHARS_PER_TOKEN = 4
"""How many characters of text one token stands for, when an answer's KV blocks are counted."""


class KVEventHub:
    """Fans the engine's KV events out to every `/kv_events` subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[list[KVEvent] | None]] = set()

    def publish(self, events: list[KVEvent]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(events)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)  # too far behind: end its stream, it reconnects

    def subscribe(self) -> asyncio.Queue[list[KVEvent] | None]:
        queue: asyncio.Queue[list[KVEvent] | None] = asyncio.Queue(EVENT_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[list[KVEvent] | None]) -> None:
        self._subscribers.discard(queue)


@dataclass
class SimState:
    """Everything one simulator holds; one per app."""

    config: SimConfig
    engine: BatchingEngine
    metrics: SimMetrics
    faults: FaultPlan
    on_crash: Callable[[], None]
    created: int
    hub: KVEventHub
    started_at: float | None = None

    def check_ready(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        elapsed = loop_time - (self.started_at if self.started_at is not None else loop_time)
        if self.faults.starting(elapsed):
            left = self.faults.slow_start - elapsed
            raise RequestError(f"the engine is still starting (--slow-start); retry in {left:.1f}s",
                               status=503, kind="ServiceUnavailableError")


SIM_STATE = web.AppKey("laneway_sim_state", SimState)


def _crash_now() -> None:
    print(f"laneway engine sim: --crash-after reached; exiting with status {CRASH_EXIT_CODE}",
          file=sys.stderr, flush=True)
    os._exit(CRASH_EXIT_CODE)


def create_sim_app(config: SimConfig, *, on_crash: Callable[[], None] | None = None) -> web.Application:
    """The simulator as an aiohttp app; serve it with `handler_cancellation=True`.

    `on_crash` runs when `--crash-after` is reached (default: exit the process at once); tests
    that host the app in their own process pass a function that records the crash instead.
    """
    metrics = SimMetrics(config)
    hub = KVEventHub()
    engine = BatchingEngine(config, observer=metrics, kv_listener=hub.publish)
    metrics.bind(engine)
    state = SimState(config=config, engine=engine, metrics=metrics, faults=FaultPlan.from_config(config),
                     on_crash=on_crash or _crash_now, created=int(time.time()), hub=hub)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_json_errors])
    app[SIM_STATE] = state
    app.cleanup_ctx.append(_engine_task)
    app.router.add_get("/health", _health)
    app.router.add_get("/ping", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/version", _version)
    app.router.add_get("/kv_events", _kv_events)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/completions", _completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_post("/v1/messages", _messages)
    return app


async def _engine_task(app: web.Application) -> AsyncIterator[None]:
    state = app[SIM_STATE]
    state.started_at = asyncio.get_running_loop().time()
    task = asyncio.create_task(state.engine.run(), name="laneway-sim-engine")
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


@web.middleware
async def _json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    """Unknown routes and wrong methods answer in the OpenAI error shape, never as HTML."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        err = RequestError(f"{request.method} {request.path}: {e.reason}", status=e.status,
                           kind="NotFoundError" if e.status == 404 else "BadRequestError")
        return _error(err, anthropic=request.path == "/v1/messages")


def _error(err: RequestError, *, anthropic: bool) -> web.Response:
    body = R.anthropic_error(err) if anthropic else R.openai_error(err)
    return web.json_response(body, status=err.status)


# -- plain routes ---------------------------------------------------------------------------


async def _health(request: web.Request) -> web.Response:
    try:
        request.app[SIM_STATE].check_ready()
    except RequestError as e:
        return web.json_response({"status": "starting", "message": e.message}, status=503)
    return web.Response(status=200)


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[SIM_STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _kv_events(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    cache = state.engine.cache
    if cache is None:
        return _error(RequestError("this simulator keeps no prefix cache, so it has no KV events; start it with "
                                   "--kv-blocks", status=404, kind="NotFoundError"), anthropic=False)
    block_size = state.config.kv_block_chars
    queue = state.hub.subscribe()
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        seq = 0
        await resp.write(encode_batch([AllBlocksCleared(), BlockStored(cache.snapshot())], ts=time.time(), seq=seq,
                                      block_size=block_size))
        while True:
            events = await queue.get()
            if events is None:
                break
            seq += 1
            await resp.write(encode_batch(events, ts=time.time(), seq=seq, block_size=block_size))
        await resp.write_eof()
        return resp
    finally:
        state.hub.unsubscribe(queue)


async def _version(request: web.Request) -> web.Response:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("laneway")
    except PackageNotFoundError:
        v = "unknown"
    return web.json_response({"version": f"laneway-sim {v}"})


async def _models(request: web.Request) -> web.Response:
    state = request.app[SIM_STATE]
    try:
        state.check_ready()
    except RequestError as e:
        return _error(e, anthropic=False)
    c = state.config
    return web.json_response(R.model_list(c.served_model_names, created=state.created,
                                          max_model_len=c.max_model_len))


async def _embeddings(request: web.Request) -> web.Response:
    state = request.app[SIM_STATE]
    try:
        state.check_ready()
        parsed = parse_embedding(decode_json(await request.read()), state.config)
        if state.faults.should_fail():
            raise _injected()
    except RequestError as e:
        return _error(e, anthropic=False)
    body = R.embeddings(R.new_id("embd"), int(time.time()), parsed, state.config.embedding_dim)
    state.metrics.on_embedding(sum(parsed.input_tokens))
    resp = web.json_response(body)
    await _send_and_count(request, resp, state)
    return resp


# -- generation -----------------------------------------------------------------------------


def _injected() -> RequestError:
    return RequestError("injected failure (--error-rate)", status=500, kind="InternalServerError")


async def _chat(request: web.Request) -> web.StreamResponse:
    return await _generate(request, parse_chat, _write_chat)


async def _completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, parse_completion, _write_completion)


async def _messages(request: web.Request) -> web.StreamResponse:
    return await _generate(request, parse_messages, _write_message, anthropic=True)


Writer = Callable[[web.Request, GenerationRequest, SimSequence, int], Awaitable[web.StreamResponse]]


async def _generate(request: web.Request, parse: Callable[[Any, SimConfig], GenerationRequest],
                    write: Writer, *, anthropic: bool = False) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    try:
        state.check_ready()
        body = decode_json(await request.read())
        gen = parse(body, state.config)
        plan = plan_output(gen, state.config)
        blocks, total_blocks = _kv_blocks(state, body, plan.tokens)
        if state.faults.should_fail():
            raise _injected()
    except RequestError as e:
        return _error(e, anthropic=anthropic)
    if gen.max_tokens is not None:
        state.metrics.observe_max_tokens(gen.max_tokens)
    seq = state.engine.submit(R.new_id("req"), prompt_tokens=gen.prompt_tokens,
                              output=output_tokens(state.faults.answer_key(gen.prompt_key), plan.tokens),
                              finish_reason=plan.finish_reason, blocks=blocks, total_blocks=total_blocks)
    try:
        # A vanished client surfaces here as CancelledError (non-streamed) or ConnectionResetError
        # (mid-stream); aiohttp drops both quietly, and the slot is freed below either way.
        resp = await write(request, gen, seq, int(time.time()))
    finally:
        state.engine.abort(seq)  # a no-op once finished
    if state.faults.record_answered():
        asyncio.get_running_loop().call_soon(state.on_crash)
    return resp


def _kv_blocks(state: SimState, body: Any, answer_tokens: int) -> tuple[tuple[int, ...], int]:
    """The prompt's block hashes and the blocks the whole sequence needs (none without a cache);
    a sequence larger than the whole cache is refused, as vLLM refuses one longer than its KV."""
    config = state.config
    if config.kv_blocks is None or not isinstance(body, dict):
        return (), 0
    text = prompt_of(body).text
    chars = len(text.encode("utf-8", "surrogatepass"))
    hashes = block_hashes(text, block_chars=config.kv_block_chars, max_blocks=config.kv_blocks)
    total = blocks_needed(chars + answer_tokens * CHARS_PER_TOKEN, block_chars=config.kv_block_chars)
    if total > config.kv_blocks:
        raise RequestError(f"this request needs {total} KV blocks (prompt and answer) but the engine's whole cache holds "
                           f"{config.kv_blocks} (--kv-blocks); send a shorter prompt or a lower max_tokens")
    return hashes, total


async def _send_and_count(request: web.Request, resp: web.Response, state: SimState) -> None:
    """Write a whole response now, so a crash scheduled after it cannot cut it off."""
    await resp.prepare(request)
    await resp.write_eof()
    if state.faults.record_answered():
        asyncio.get_running_loop().call_soon(state.on_crash)


async def _whole(seq: SimSequence) -> str:
    async for _ in seq.tokens():
        pass
    return "".join(seq.output[: seq.emitted])


async def _json_now(request: web.Request, body: dict[str, Any]) -> web.Response:
    resp = web.json_response(body)
    await resp.prepare(request)
    await resp.write_eof()
    return resp


async def _open_stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    return resp


async def _write_chat(request: web.Request, gen: GenerationRequest, seq: SimSequence,
                      created: int) -> web.StreamResponse:
    rid = R.new_id("chatcmpl")
    if not gen.stream:
        text = await _whole(seq)
        return await _json_now(request, R.chat_completion(rid, gen.model, created, text, seq.finish_reason,
                                                          gen.prompt_tokens, seq.emitted))
    resp = await _open_stream(request)
    first = True
    async for token in seq.tokens():
        delta: dict[str, Any] = {"role": "assistant", "content": token} if first else {"content": token}
        first = False
        await resp.write(R.sse_data(R.chat_chunk(rid, gen.model, created, delta)))
    await resp.write(R.sse_data(R.chat_chunk(rid, gen.model, created, {}, seq.finish_reason)))
    if gen.include_usage:
        await resp.write(R.sse_data(R.usage_chunk(rid, "chat.completion.chunk", gen.model, created,
                                                  gen.prompt_tokens, seq.emitted)))
    await resp.write(R.SSE_DONE)
    await resp.write_eof()
    return resp


async def _write_completion(request: web.Request, gen: GenerationRequest, seq: SimSequence,
                            created: int) -> web.StreamResponse:
    rid = R.new_id("cmpl")
    if not gen.stream:
        text = await _whole(seq)
        return await _json_now(request, R.completion(rid, gen.model, created, text, seq.finish_reason,
                                                     gen.prompt_tokens, seq.emitted))
    resp = await _open_stream(request)
    async for token in seq.tokens():
        await resp.write(R.sse_data(R.completion_chunk(rid, gen.model, created, token)))
    await resp.write(R.sse_data(R.completion_chunk(rid, gen.model, created, "", seq.finish_reason)))
    if gen.include_usage:
        await resp.write(R.sse_data(R.usage_chunk(rid, "text_completion", gen.model, created,
                                                  gen.prompt_tokens, seq.emitted)))
    await resp.write(R.SSE_DONE)
    await resp.write_eof()
    return resp


async def _write_message(request: web.Request, gen: GenerationRequest, seq: SimSequence,
                         created: int) -> web.StreamResponse:
    rid = R.new_id("msg").replace("-", "_")
    if not gen.stream:
        text = await _whole(seq)
        return await _json_now(request, R.message(rid, gen.model, text, seq.finish_reason,
                                                  gen.prompt_tokens, seq.emitted))
    resp = await _open_stream(request)
    await resp.write(R.message_start(rid, gen.model, gen.prompt_tokens))
    async for token in seq.tokens():
        await resp.write(R.message_delta_text(token))
    await resp.write(R.message_end(seq.finish_reason, gen.prompt_tokens, seq.emitted))
    await resp.write_eof()
    return resp


# -- running it -----------------------------------------------------------------------------


async def serve_sim(config: SimConfig, *, host: str, port: int,
                    ready: Callable[[str], None] | None = None,
                    stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or `stop` is set); `ready(address)` runs once listening."""
    app = create_sim_app(config)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=1.0)
        try:
            await site.start()
        except OSError as e:
            from laneway.engines.errors import EngineError

            raise EngineError(f"cannot listen on {host}:{port}: {e.strerror or e}; "
                              "choose another --port (or set LANEWAY_PORT)") from None
        bound = runner.addresses[0]
        address = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
        if ready is not None:
            ready(address)
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
                pass
        await stop.wait()
    finally:
        await runner.cleanup()
