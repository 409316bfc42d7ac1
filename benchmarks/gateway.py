"""Gateway benchmark: the laneway gateway against the floor (a bare aiohttp pass-through).

Runs on loopback, each server in its own process:
  upstream  a minimal OpenAI-shaped server (fixed JSON, or a 5-event SSE stream with usage);
  bare      the floor: aiohttp server + aiohttp client, forwarding bytes, nothing else;
  laneway   the laneway gateway with routing, two weighted entries, an API key, a rate limit
            (high enough never to refuse) and metering all on, over a SQLite store;
  litellm   LiteLLM's proxy, only when `litellm` is installed (it is not a dependency).
For non-streaming and streaming requests at concurrency 1 and 64 it prints requests per second,
p50/p99 latency added over calling the upstream directly, and the ratio to the bare proxy.

    python benchmarks/gateway.py [--seconds 3] [--only laneway]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

CHAT = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello there"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
CHAT_BYTES = json.dumps(CHAT).encode()
REQUEST = {"model": "bench", "messages": [{"role": "user", "content": "hi"}]}
KEY = "sk-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers (each runs in its own process) ------------------------------------------------


async def _upstream(port: int) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        if not payload.get("stream"):
            return web.Response(body=CHAT_BYTES, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(5):
            chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if (payload.get("stream_options") or {}).get("include_usage"):
            await resp.write(b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5}}\n\n')
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    server = web.Server(handle)
    runner = web.ServerRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _bare(port: int, upstream: str) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with session.request(request.method, upstream + request.path_qs, data=body,
                                   headers={"Content-Type": request.headers.get("Content-Type", "")}) as up:
            resp = web.StreamResponse(status=up.status, headers={"Content-Type": up.headers.get("Content-Type", "")})
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _laneway(port: int, db: str) -> None:
    from laneway.gateway.server import start_gateway
    from laneway.store import open_store

    await start_gateway(store=open_store(db), host="127.0.0.1", port=port)
    await asyncio.Event().wait()


def seed_store(db: str, upstream: str) -> None:
    from laneway.api.kinds.secret import Secret
    from laneway.api.kinds.serving import ModelEndpoint, ModelService
    from laneway.store import open_store

    store = open_store(db)
    store.create(Secret.model_validate({"metadata": {"name": "keys", "namespace": "bench"}, "stringData": {"k": KEY}}))
    for name, group in (("a", "one"), ("b", "two")):
        store.create(ModelEndpoint.model_validate(
            {"metadata": {"name": name, "namespace": "bench", "labels": {"group": group}}, "spec": {"url": upstream}}
        ))
    store.create(ModelService.model_validate({
        "metadata": {"name": "bench", "namespace": "bench"},
        "spec": {
            "endpoints": [{"weight": 3, "selector": {"matchLabels": {"group": "one"}}},
                          {"weight": 1, "selector": {"matchLabels": {"group": "two"}}}],
            "apiKeys": [{"name": "keys", "key": "k"}],
            "rateLimit": {"requestsPerMinute": 100_000_000, "tokensPerMinute": 1_000_000_000},
            "slo": {"p95Latency": "1s"},
        },
    }))
    store.close()


# ---- load generator ------------------------------------------------------------------------


async def load(url: str, *, stream: bool, concurrency: int, seconds: float, headers: dict[str, str]) -> tuple[float, list[float]]:
    body = json.dumps({**REQUEST, "stream": stream}).encode()
    hdrs = {"Content-Type": "application/json", **headers}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with s.post(url, data=body, headers=hdrs) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url}: HTTP {r.status}: {(await r.read())[:200]!r}")
                latencies.append(time.perf_counter() - t0)

        for _ in range(20):  # warm up connections
            async with s.post(url, data=body, headers=hdrs) as r:
                await r.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spawn(role: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve", role, *args])


async def wait_listening(port: int) -> None:
    for _ in range(300):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


async def main(args: argparse.Namespace) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    tmp = tempfile.TemporaryDirectory()
    try:
        up_port = free_port()
        procs.append(spawn("upstream", str(up_port)))
        upstream = f"http://127.0.0.1:{up_port}"
        targets: dict[str, tuple[str, dict[str, str]]] = {"direct": (upstream + "/v1/chat/completions", {})}
        if not args.only or "bare" in args.only:
            p = free_port()
            procs.append(spawn("bare", str(p), upstream))
            targets["bare"] = (f"http://127.0.0.1:{p}/v1/chat/completions", {})
        if not args.only or "laneway" in args.only:
            db = str(Path(tmp.name) / "laneway.db")
            seed_store(db, upstream)
            p = free_port()
            procs.append(spawn("laneway", str(p), db))
            targets["laneway"] = (f"http://127.0.0.1:{p}/bench/bench/v1/chat/completions", {"Authorization": f"Bearer {KEY}"})
        try:
            import litellm  # noqa: F401

            have_litellm = True
        except ImportError:
            have_litellm = False
        for url, _ in targets.values():
            await wait_listening(int(url.split(":")[2].split("/")[0]))

        print(f"{'mode':<10} {'conc':>4} {'target':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} {'vs bare':>8}")
        for stream in (False, True):
            for conc in (1, 64):
                results: dict[str, tuple[float, list[float]]] = {}
                for name, (url, headers) in targets.items():
                    results[name] = await load(url, stream=stream, concurrency=conc, seconds=args.seconds, headers=headers)
                d50, d99 = pct(results["direct"][1], 0.5), pct(results["direct"][1], 0.99)
                for name, (rps, lat) in results.items():
                    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
                    ratio = f"{rps / results['bare'][0]:.2f}" if "bare" in results else "-"
                    print(f"{'stream' if stream else 'plain':<10} {conc:>4} {name:<8} {rps:>9.0f} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f} "
                          f"{(p50 - d50) * 1e3:>8.2f} {(p99 - d99) * 1e3:>8.2f} {ratio:>8}")
        if not have_litellm:
            print("litellm: not installed, skipped (pip install 'litellm[proxy]' to compare)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="Duration of each measurement.")
    parser.add_argument("--only", action="append", choices=("bare", "laneway"), help="Measure only these (repeatable).")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve:
        role, *rest = ns.serve
        coro: Any = {"upstream": lambda: _upstream(int(rest[0])), "bare": lambda: _bare(int(rest[0]), rest[1]),
                     "laneway": lambda: _laneway(int(rest[0]), rest[1])}[role]()
        try:
            asyncio.run(coro)
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    asyncio.run(main(ns))
