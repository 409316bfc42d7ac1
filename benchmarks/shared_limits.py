"""Shared rate limits on PostgreSQL: store calls on the event loop (before) against on threads (after).

A gateway process answers every request on one asyncio event loop. The shared limiter
(`gateway/shared_limits.py`) leases budget from the database; each lease is a round trip.
Before, that call ran on the event loop and stalled every request of the process while it
waited; now it runs on the limiter's threads. This measures both in the same run, on a real
PostgreSQL server started for it, with the same limiter code: the baseline runs the store
calls inline (`InlineExecutor`), exactly where they used to run.

Load: `--clients` coroutines admit requests as fast as they can, each over its own limit key
(many API keys or services), limits under 1,000 a minute so each lease is one unit and every
admission asks the database: the worst case (a limit of 60,000 a minute leases 120 at a time
and asks once per 120 requests). Alongside, a ticker coroutine sleeps 5 ms at a time and
records how late it wakes: the event-loop lag any other request of the process would see.

    python benchmarks/shared_limits.py [--seconds 3] [--clients 32] [--rounds 3]

Prints admissions per second and the loop lag (p50, p99, max) of each, and the ratios
after / before (throughput) and before / after (p99 lag), medians over the rounds, which
alternate the two so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from concurrent.futures import Executor
from dataclasses import dataclass

from laneway.api.kinds.serving import RateLimit
from laneway.gateway.shared_limits import InlineExecutor, SharedRateLimiter
from laneway.store.postgres import PostgresStore
from laneway.testing.postgres import postgres_server

TICK = 0.005
LIMIT = RateLimit(requests_per_minute=999)  # leases of one unit: every admission asks the database


@dataclass(frozen=True)
class Run:
    admissions_per_second: float
    refused: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _measure(store: PostgresStore, executor: Executor | None, *, clients: int, seconds: float, tag: str) -> Run:
    limiter = SharedRateLimiter(store, clock=time.time, executor=executor)
    stop = time.perf_counter() + seconds
    admitted = 0
    refused = 0
    lags: list[float] = []

    async def client(n: int) -> None:
        nonlocal admitted, refused
        key = f"{tag}-{n}"
        while time.perf_counter() < stop:
            if (await limiter.admit(key, LIMIT)).allowed:
                admitted += 1
            else:
                refused += 1
            await asyncio.sleep(0)  # a request does other work between admissions

    async def ticker() -> None:
        while time.perf_counter() < stop:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append((time.perf_counter() - before - TICK) * 1000)

    started = time.perf_counter()
    try:
        await asyncio.gather(ticker(), *(client(n) for n in range(clients)))
    finally:
        await limiter.close()
    elapsed = time.perf_counter() - started
    return Run(admitted / elapsed, refused, _pct(lags, 0.5), _pct(lags, 0.99), max(lags, default=0.0))


def _line(name: str, runs: list[Run]) -> str:
    med = statistics.median
    return (f"  {name:<22} {med(r.admissions_per_second for r in runs):>8.0f}/s   loop lag p50 "
            f"{med(r.lag_p50_ms for r in runs):6.2f} ms  p99 {med(r.lag_p99_ms for r in runs):6.2f} ms  "
            f"max {med(r.lag_max_ms for r in runs):6.2f} ms   refused {sum(r.refused for r in runs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with postgres_server() as pg:
        store = PostgresStore(pg.create_database("bench_limits"))
        try:
            before: list[Run] = []
            after: list[Run] = []
            for r in range(args.rounds):
                order = [("inline", InlineExecutor(), before), ("threads", None, after)]
                for name, executor, runs in order if r % 2 == 0 else reversed(order):
                    runs.append(asyncio.run(_measure(store, executor, clients=args.clients, seconds=args.seconds,
                                                     tag=f"{name}{r}")))
        finally:
            store.close()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\nshared limits on PostgreSQL, {args.clients} clients, one key each, leases of 1 unit, "
          f"{args.rounds} rounds of {args.seconds:g} s; {cores} cores available")
    print(_line("before: on the loop", before))
    print(_line("after: on threads", after))
    throughput = [a.admissions_per_second / b.admissions_per_second for a, b in zip(after, before)]
    lag = [b.lag_p99_ms / max(a.lag_p99_ms, 1e-3) for a, b in zip(after, before)]
    print(f"  ratio admissions after / before: median {statistics.median(throughput):.2f} "
          f"(spread {min(throughput):.2f}-{max(throughput):.2f})")
    print(f"  ratio loop lag p99 before / after: median {statistics.median(lag):.2f} (spread {min(lag):.2f}-{max(lag):.2f})")


if __name__ == "__main__":
    main()
