"""Gateway benchmark: the laneway gateway against the floor (a bare aiohttp pass-through).

Runs on loopback, each server in its own process:
  upstream  a minimal OpenAI-shaped server: fixed JSON, or a 5-event SSE stream; when the
            request asks `stream_options.include_usage` it behaves like OpenAI's API (every
            chunk carries `"usage": null`, then one usage chunk with `choices: []`);
  bare      the floor: aiohttp server + aiohttp client, forwarding bytes, nothing else;
  laneway   the laneway gateway with routing, two weighted entries, an API key, a rate limit
            (high enough never to refuse) and metering all on, over a SQLite store;
  litellm   LiteLLM's proxy (one worker, a master key), only when an executable is found: set
            LANEWAY_BENCH_LITELLM=/path/to/bin/litellm or pass --litellm (it is not a
            dependency; install it in a throwaway venv).

Modes: `plain` (non-streaming), `stream` (the caller does not ask for usage, so laneway asks
the upstream for it and strips the extra chunk again) and `stream+usage` (the caller asks),
each at concurrency 1 and 64. The machine this runs on is usually shared and noisy, so every
configuration is measured in several rounds, the targets side by side in a rotating order,
and the ratio to the bare proxy is the median of the per-round ratios (the spread is printed
too). Before measuring, one request per target and mode checks the response; after, the
gateway's token counters are compared with what the upstream reported, so the numbers are
only printed for a gateway that metered every request exactly.

    python benchmarks/gateway.py [--seconds 2] [--rounds 3] [--only laneway] [--litellm PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
STREAM_EVENTS = 5
"""Content chunks per streamed answer; the usage chunk reports this many completion tokens."""
PROMPT_TOKENS = 5
REQUEST = {"model": "bench", "messages": [{"role": "user", "content": "hi"}]}
KEY = "sk-bench"
LITELLM_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
MODES: dict[str, dict[str, Any]] = {
    "plain": {"stream": False},
    "stream": {"stream": True},
    "stream+usage": {"stream": True, "stream_options": {"include_usage": True}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers (each runs in its own process) ------------------------------------------------


async def _upstream(port: int) -> None:

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            payload = json.loads(await request.read())
        except ValueError:  # a proxy's own probe (LiteLLM sends some): not a chat request
            return web.json_response({"error": {"message": "send a JSON chat request"}}, status=400)
        if not isinstance(payload, dict) or not payload.get("stream"):
            return web.Response(body=CHAT_BYTES, content_type="application/json")
        usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(STREAM_EVENTS):
            chunk: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"t{i}"}}]}
            if usage:
                chunk["usage"] = None  # what OpenAI's API sends on every chunk once usage is asked for
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if usage:
            done = {"id": "c", "object": "chat.completion.chunk", "choices": [],
                    "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": STREAM_EVENTS}}
            await resp.write(b"data: " + json.dumps(done).encode() + b"\n\n")
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


def seed_store(db: str, upstream: str) -> str:
    """Seed the benchmark's service; returns a platform token for reading `/metrics`."""
    from laneway.api.kinds.secret import Secret
    from laneway.api.kinds.serving import ModelEndpoint, ModelService
    from laneway.server.auth import create_token
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
    try:
        from laneway.testing.fleet import add_gateway
    except ImportError:  # a baseline tree from before the egress policy has no door to open
        pass
    else:
        add_gateway(store)  # the platform opens loopback, where the benchmark's upstream listens
    token = create_token(store, role="platform", description="benchmark reads /metrics")
    store.close()
    return token


def litellm_executable(flag: str | None) -> str | None:
    """The LiteLLM executable to measure, or None: --litellm, else $LANEWAY_BENCH_LITELLM, else
    `litellm` on PATH."""
    candidate = flag or os.environ.get("LANEWAY_BENCH_LITELLM") or shutil.which("litellm")
    if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


def spawn_litellm(exe: str, port: int, upstream: str, workdir: Path) -> subprocess.Popen[bytes]:
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params: {model: openai/bench, api_base: " + upstream + "/v1, api_key: sk-upstream}\n"
        "general_settings: {master_key: " + LITELLM_KEY + "}\n"
    )
    log = open(workdir / "litellm.log", "wb")  # noqa: SIM115 - the child process writes to it for its whole life
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    return subprocess.Popen(
        [exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )


# ---- load generator ------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    requests: dict[str, int] = field(default_factory=dict)
    """Requests sent per mode, warm-up and checks included (to audit the gateway's metering)."""
    metrics_token: str | None = None
    """A platform token for the gateway's `/metrics` (laneway lanes only)."""
    pid: int | None = None
    """The serving process, whose CPU time per request is measured (None: not measured)."""
    cpu_per_request: list[float] = field(default_factory=list)
    """CPU seconds of the serving process per request, one value per measurement."""


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds the process `pid` has used so far (None when not known)."""
    if pid is None:
        return None
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def load(target: Target, mode: str, *, concurrency: int, seconds: float) -> tuple[float, list[float]]:
    body = json.dumps({**REQUEST, **MODES[mode]}).encode()
    hdrs = {"Content-Type": "application/json", **target.headers}
    latencies: list[float] = []
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        async def one() -> None:
            nonlocal sent
            sent += 1
            async with s.post(target.url, data=body, headers=hdrs) as r:
                data = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{target.name}: HTTP {r.status}: {data[:200]!r}")

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await one()
                latencies.append(time.perf_counter() - t0)

        for _ in range(min(20, 2 * concurrency)):  # warm up connections
            await one()
        started = time.perf_counter()
        deadline = started + seconds
        cpu_before = cpu_seconds(target.pid)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(target.pid)
    target.requests[mode] = target.requests.get(mode, 0) + sent
    if cpu_before is not None and cpu_after is not None and latencies:
        target.cpu_per_request.append((cpu_after - cpu_before) / len(latencies))
    return len(latencies) / elapsed, latencies


async def check(target: Target, mode: str) -> None:
    """One request: a well-formed answer, and no usage chunk the caller did not ask for."""
    body = json.dumps({**REQUEST, **MODES[mode]}).encode()
    async with aiohttp.ClientSession() as s:
        async with s.post(target.url, data=body, headers={"Content-Type": "application/json", **target.headers}) as r:
            data = await r.read()
    target.requests[mode] = target.requests.get(mode, 0) + 1
    if r.status != 200:
        raise RuntimeError(f"{target.name} {mode}: HTTP {r.status}: {data[:300]!r}")
    if mode == "plain":
        return
    if not data.rstrip().endswith(b"data: [DONE]"):
        raise RuntimeError(f"{target.name} {mode}: the stream does not end with [DONE]: {data[-200:]!r}")
    has_usage_chunk = b'"choices": []' in data or b'"choices":[]' in data
    if mode == "stream" and has_usage_chunk:
        raise RuntimeError(f"{target.name} {mode}: the caller did not ask for usage but got a usage chunk")
    if mode == "stream+usage" and target.name in ("bare", "laneway") and not has_usage_chunk:
        raise RuntimeError(f"{target.name} {mode}: the caller asked for usage but got no usage chunk")


async def audit_metering(target: Target) -> str:
    """Compare the gateway's token counters with what the upstream reported for every request."""
    async with aiohttp.ClientSession() as s:
        auth = {"Authorization": f"Bearer {target.metrics_token}"} if target.metrics_token else {}
        async with s.get(target.url.split("/bench/")[0] + "/metrics", headers=auth) as r:
            text = await r.text()
    got = {"prompt": 0.0, "completion": 0.0}
    for m in re.finditer(r'^laneway_gateway_tokens_total\{[^}]*kind="(\w+)"[^}]*\} ([0-9.e+]+)$', text, re.M):
        got[m.group(1)] += float(m.group(2))
    n = target.requests
    want_prompt = PROMPT_TOKENS * sum(n.values())
    want_completion = 2 * n.get("plain", 0) + STREAM_EVENTS * (n.get("stream", 0) + n.get("stream+usage", 0))
    if (got["prompt"], got["completion"]) != (want_prompt, want_completion):
        raise RuntimeError(
            f"laneway metered {got['prompt']:.0f} prompt / {got['completion']:.0f} completion tokens, "
            f"the upstream reported {want_prompt} / {want_completion}"
        )
    return f"metering exact: {want_prompt} prompt + {want_completion} completion tokens over {sum(n.values())} requests"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _env(pythonpath: str | None) -> dict[str, str] | None:
    if not pythonpath:
        return None
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH")) if p)}


def spawn(role: str, *args: str, pythonpath: str | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve", role, *args], env=_env(pythonpath))


def seed_store_with(db: str, upstream: str, *, pythonpath: str) -> str:
    """`seed_store` run by the code in `pythonpath`, so a baseline gateway reads a store in the
    format its own code writes (the store's schema may have moved since)."""
    done = subprocess.run([sys.executable, __file__, "--serve", "seed", db, upstream], env=_env(pythonpath),
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"seeding the baseline's store failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


async def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout:g}s")


async def measure(targets: list[Target], mode: str, conc: int, args: argparse.Namespace) -> None:
    rps: dict[str, list[float]] = {t.name: [] for t in targets}
    lat: dict[str, list[float]] = {t.name: [] for t in targets}
    ratio: dict[str, list[float]] = {t.name: [] for t in targets}
    vs_litellm: list[float] = []
    vs_before: list[float] = []
    for t in targets:
        t.cpu_per_request.clear()
    for r in range(args.rounds):
        order = targets[r % len(targets):] + targets[:r % len(targets)]  # no target always goes first
        this: dict[str, float] = {}
        for t in order:
            seconds = args.seconds if t.name != "litellm" else max(args.seconds, 3.0)
            this[t.name], latencies = await load(t, mode, concurrency=conc, seconds=seconds)
            rps[t.name].append(this[t.name])
            lat[t.name].extend(latencies)
        for name, value in this.items():
            if "bare" in this:
                ratio[name].append(value / this["bare"])
        if this.get("litellm") and "laneway" in this:
            vs_litellm.append(this["laneway"] / this["litellm"])
        if this.get("before") and "laneway" in this:
            vs_before.append(this["laneway"] / this["before"])
    d50 = pct(lat["direct"], 0.5)
    d99 = pct(lat["direct"], 0.99)
    for t in targets:
        p50, p99 = pct(lat[t.name], 0.5), pct(lat[t.name], 0.99)
        spread = f"{min(ratio[t.name]):.2f}-{max(ratio[t.name]):.2f}" if ratio[t.name] else "-"
        med = f"{statistics.median(ratio[t.name]):.2f}" if ratio[t.name] else "-"
        cpu = f"{statistics.median(t.cpu_per_request) * 1e3:.3f}" if t.cpu_per_request else "-"
        print(f"{mode:<13} {conc:>4} {t.name:<8} {statistics.median(rps[t.name]):>8.0f} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f} "
              f"{(p50 - d50) * 1e3:>8.2f} {(p99 - d99) * 1e3:>8.2f} {med:>8} {spread:>10} {cpu:>10}", flush=True)
    if vs_before:
        cpu = {t.name: statistics.median(t.cpu_per_request) for t in targets if t.name in ("laneway", "before") and t.cpu_per_request}
        cpu_ratio = f"; cpu per request {cpu['laneway'] / cpu['before']:.2f}x" if len(cpu) == 2 else ""
        print(f"{'':<13} {'':>4} laneway / before: {statistics.median(vs_before):.2f}x req/s (per round: "
              + ", ".join(f"{x:.2f}" for x in vs_before) + f"){cpu_ratio}", flush=True)
    if vs_litellm:
        print(f"{'':<13} {'':>4} laneway / litellm: {statistics.median(vs_litellm):.0f}x (per round: "
              + ", ".join(f"{x:.0f}" for x in vs_litellm) + ")", flush=True)


async def main(args: argparse.Namespace) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    groups: list[subprocess.Popen[bytes]] = []
    tmp = tempfile.TemporaryDirectory()
    try:
        up_port = free_port()
        procs.append(spawn("upstream", str(up_port)))
        upstream = f"http://127.0.0.1:{up_port}"
        targets = [Target("direct", upstream + "/v1/chat/completions", {})]
        if not args.only or "bare" in args.only:
            p = free_port()
            procs.append(spawn("bare", str(p), upstream))
            targets.append(Target("bare", f"http://127.0.0.1:{p}/v1/chat/completions", {}, pid=procs[-1].pid))
        if not args.only or "laneway" in args.only:
            db = str(Path(tmp.name) / "laneway.db")
            token = seed_store(db, upstream)
            p = free_port()
            procs.append(spawn("laneway", str(p), db))
            targets.append(Target("laneway", f"http://127.0.0.1:{p}/bench/bench/v1/chat/completions", {"Authorization": f"Bearer {KEY}"},
                                  metrics_token=token, pid=procs[-1].pid))
        if args.baseline:
            # The same gateway from another source tree (e.g. a copy of src/ before a change),
            # measured side by side as `before`.
            db = str(Path(tmp.name) / "before.db")
            token = seed_store_with(db, upstream, pythonpath=args.baseline)  # its own code writes its own store
            p = free_port()
            procs.append(spawn("laneway", str(p), db, pythonpath=args.baseline))
            targets.append(Target("before", f"http://127.0.0.1:{p}/bench/bench/v1/chat/completions", {"Authorization": f"Bearer {KEY}"},
                                  metrics_token=token, pid=procs[-1].pid))
        exe = litellm_executable(args.litellm) if not args.only or "litellm" in args.only else None
        if exe:
            p = free_port()
            groups.append(spawn_litellm(exe, p, upstream, Path(tmp.name)))
            targets.append(Target("litellm", f"http://127.0.0.1:{p}/v1/chat/completions", {"Authorization": f"Bearer {LITELLM_KEY}"}))
        for t in targets:
            await wait_listening(int(t.url.split(":")[2].split("/")[0]), timeout=180.0 if t.name == "litellm" else 15.0)
        for t in targets:
            for mode in args.mode:
                await check(t, mode)

        print(f"{'mode':<13} {'conc':>4} {'target':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
              f"{'vs bare':>8} {'spread':>10} {'cpu ms/req':>10}")
        for mode in args.mode:
            for conc in args.concurrency:
                await measure(targets, mode, conc, args)
        await asyncio.sleep(0.5)  # the last responses' metering runs after their last byte
        for lane in (t for t in targets if t.name in ("laneway", "before")):
            print(f"{lane.name}: " + await audit_metering(lane))
        if not exe:
            print("litellm: not measured (set LANEWAY_BENCH_LITELLM to a litellm executable, or pass --litellm)")
    finally:
        for p in procs:
            p.terminate()
        for p in groups:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs + groups:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="Duration of each measurement (LiteLLM: at least 3).")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per configuration; ratios are medians over rounds.")
    parser.add_argument("--only", action="append", choices=("bare", "laneway", "litellm"), help="Measure only these (repeatable).")
    parser.add_argument("--mode", action="append", choices=tuple(MODES), help="Modes to measure (repeatable; default all).")
    parser.add_argument("--concurrency", action="append", type=int, help="Concurrency levels (repeatable; default 1 and 64).")
    parser.add_argument("--litellm", help="LiteLLM executable (default: $LANEWAY_BENCH_LITELLM, else `litellm` on PATH).")
    parser.add_argument("--baseline", metavar="SRC", help="Also measure the gateway from this source tree (a directory holding "
                        "a `laneway` package, e.g. a copy of src/ before a change), side by side as `before`.")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve and ns.serve[0] == "seed":
        print(seed_store(ns.serve[1], ns.serve[2]))
        sys.exit(0)
    if ns.serve:
        role, *rest = ns.serve
        coro: Any = {"upstream": lambda: _upstream(int(rest[0])), "bare": lambda: _bare(int(rest[0]), rest[1]),
                     "laneway": lambda: _laneway(int(rest[0]), rest[1])}[role]()
        try:
            asyncio.run(coro)
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    ns.mode = ns.mode or list(MODES)
    ns.concurrency = ns.concurrency or [1, 64]
    if ns.rounds < 1 or ns.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    asyncio.run(main(ns))
