"""Simulator fidelity benchmark: does `laneway engine sim` keep its promised timing under load?

Starts the simulator as a process on loopback (`--ttft 0.05 --itl 0.02 --max-tokens 50`,
`--max-num-seqs 256`), then for each concurrency runs that many streaming chat requests at
once with an aiohttp client and measures, per stream, time to first token and inter-token
latency. It prints p50/p95 against the configured values as ratios (1.00 = exactly as
promised). The baseline run alongside is concurrency 1, where nothing but the loop itself
adds delay; a ratio far above the baseline's means the process no longer keeps up. The last
row sends twice `--max-num-seqs`, so half the requests queue: its TTFT ratio shows the wait.

    python benchmarks/engine_sim.py [--concurrency 1,64,256,512]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import statistics
import subprocess
import sys
import time

import aiohttp

TTFT, ITL, TOKENS, SLOTS = 0.05, 0.02, 50, 256


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def one(session: aiohttp.ClientSession, url: str, i: int) -> tuple[float, list[float]]:
    body = {"model": "laneway-sim", "stream": True, "messages": [{"role": "user", "content": f"bench {i}"}]}
    start = time.perf_counter()
    stamps: list[float] = []
    async with session.post(f"{url}/v1/chat/completions", json=body) as r:
        async for line in r.content:
            if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                stamps.append(time.perf_counter())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return stamps[0] - start, gaps


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def run(url: str, concurrency: int) -> tuple[list[float], list[float]]:
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
        results = await asyncio.gather(*(one(s, url, i) for i in range(concurrency)))
    return [r[0] for r in results], [g for r in results for g in r[1]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", default=f"1,64,{SLOTS},{2 * SLOTS}")
    levels = [int(c) for c in parser.parse_args().concurrency.split(",")]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "laneway.cli.engine", "sim", "--port", str(port),
                             "--ttft", str(TTFT), "--itl", str(ITL), "--max-tokens", str(TOKENS),
                             "--max-num-seqs", str(SLOTS)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the simulator did not start") from None
                time.sleep(0.1)
        print(f"configured: ttft {TTFT}s, itl {ITL}s, {TOKENS} tokens, max-num-seqs {SLOTS}")
        print(f"{'streams':>8} {'ttft p50':>9} {'ttft p95':>9} {'itl p50':>8} {'itl p95':>8}   ratios to configured")
        for c in levels:
            ttfts, gaps = asyncio.run(run(url, c))
            t50, t95, i50, i95 = pct(ttfts, 50), pct(ttfts, 95), pct(gaps, 50), pct(gaps, 95)
            print(f"{c:>8} {t50:>9.3f} {t95:>9.3f} {i50:>8.3f} {i95:>8.3f}   "
                  f"ttft x{t50 / TTFT:.2f}/x{t95 / TTFT:.2f}  itl x{i50 / ITL:.2f}/x{i95 / ITL:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
