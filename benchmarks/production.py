"""laneway in production: what PostgreSQL and more processes buy, each as a ratio measured in this run.

Three comparisons, each against a baseline run alongside in the same invocation:

  store      one process, SQLite against PostgreSQL: creates and updates per second through
             the store itself (the baseline is SQLite, the embedded default);
  api        API write throughput on PostgreSQL with one `laneway up` against three: writer
             threads create objects over HTTP, all on one process, then spread over three
             (the baseline is one process);
  gateway    gateway throughput with `laneway gateway --workers 1` against `--workers 2` on one
             port (SO_REUSEPORT), non-streamed requests at concurrency 64 through a rate-limited
             service whose limit is shared in the store (the baseline is one worker).

A real PostgreSQL server is started for the run (initdb in a temp dir, a free loopback port)
and stopped at the end, with every process this script started. The machines these run on
have two cores shared with other work, so the API and gateway comparisons measure several
rounds, alternating the two configurations, and print the median ratio and the spread.

The gateway comparison only means something when the gateway is the bottleneck: everything else
on the same cores must cost far less CPU per request than the gateway. So the load comes from
`wrk` (C, epoll: a few microseconds a request; Debian's `wrk` package, installed by .ci/run)
over 64 kept-alive connections, and the upstream is one raw asyncio protocol answering a fixed
OpenAI-shaped completion on kept-alive connections (`_Upstream`), not an aiohttp server, which
costs about as much per request as the gateway. Without `wrk` (or with `--python-load`) the load
comes from Python processes, which cap what two workers can show on two cores. It prints the
busy cores of each part (gateway, each worker, upstream, load, PostgreSQL, the whole machine:
what is left is other people's work), the CPU per request of the gateway and of the harness, and
the ratio two workers can reach at most with that harness on these cores.

    python benchmarks/production.py [--only store|api|gateway] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:  # imported where used: a load generator process (--load) starts without them
    from laneway.api.kinds import ModelEndpoint
    from laneway.store.base import Store
    from laneway.testing.postgres import PostgresServer

HERE = Path(__file__).resolve().parent
REQUEST = {"model": "bench", "messages": [{"role": "user", "content": "hi"}]}


def _endpoint(name: str, url: str = "http://127.0.0.1:9000") -> ModelEndpoint:
    from laneway.api.kinds import ModelEndpoint

    return ModelEndpoint.model_validate({"metadata": {"name": name, "namespace": "bench"}, "spec": {"url": url}})


def _rate(count: int, op: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(count):
        op(i)
    return count / (time.perf_counter() - start)


# ---- store: SQLite against PostgreSQL, one process -------------------------------------------


def bench_store(pg: PostgresServer, count: int) -> None:
    from laneway.api.kinds import ModelEndpoint
    from laneway.api.meta import ObjectKey
    from laneway.store.postgres import PostgresStore
    from laneway.store.sqlite import SqliteStore

    def run(store: Store) -> dict[str, float]:
        return {
            "create": _rate(count, lambda i: store.create(_endpoint(f"e{i}"))),
            "get": _rate(count, lambda i: store.get(ModelEndpoint, ObjectKey("bench", f"e{i}"))),
            "update": _rate(count, lambda i: store.update(_endpoint(f"e{i}", "http://127.0.0.1:9001"))),
        }

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "bench.db")
        try:
            base = run(sqlite)
        finally:
            sqlite.close()
    postgres = PostgresStore(pg.create_database("bench_store"))
    try:
        figures = run(postgres)
    finally:
        postgres.close()
    print(f"\nstore, one process, {count} objects (ops/s; ratio PostgreSQL / SQLite)")
    for op in base:
        print(f"  {op:<7} sqlite {base[op]:>8.0f}   postgresql {figures[op]:>8.0f}   ratio {figures[op] / base[op]:.2f}")


# ---- api: one laneway up against three, on PostgreSQL -----------------------------------------


class UpProcess:
    def __init__(self, dsn: str, root: Path) -> None:
        from laneway.testing.postgres import free_port

        self.root = root
        self.port = free_port()
        self.log = root.with_suffix(".log")
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(root), "--port", str(self.port),
                 "--gateway-port", str(free_port()), "--no-local-cluster", "--store", dsn, "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while not (self.root / "server.json").exists() or "is up" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"laneway up did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    @property
    def token(self) -> str:
        return (self.root / "admin.token").read_text().strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _api_writes(ups: list[UpProcess], writers: int, seconds: float, prefix: str) -> float:
    """Creates per second by `writers` threads, each bound to one process (round robin)."""
    from laneway.client import Client

    counts = [0] * writers
    stop = threading.Event()

    def writer(n: int) -> None:
        up = ups[n % len(ups)]
        with Client(f"http://127.0.0.1:{up.port}", up.token) as client:
            i = 0
            while not stop.is_set():
                client.create(_endpoint(f"{prefix}-{n}-{i}"))
                counts[n] += 1
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return sum(counts) / (time.perf_counter() - started)


def bench_api(pg: PostgresServer, seconds: float, rounds: int, writers: int) -> None:
    dsn = pg.create_database("bench_api")
    with tempfile.TemporaryDirectory() as tmp:
        ups = [UpProcess(dsn, Path(tmp) / f"up{i}") for i in range(3)]
        try:
            for up in ups:
                up.wait_ready()
            one: list[float] = []
            three: list[float] = []
            for r in range(rounds):
                order = [("one", ups[:1], one), ("three", ups, three)]
                for name, targets, figures in order if r % 2 == 0 else reversed(order):
                    figures.append(_api_writes(targets, writers, seconds, f"{name}{r}"))
        finally:
            for up in ups:
                up.stop()
    ratios = [b / a for a, b in zip(one, three)]
    print(f"\napi writes on PostgreSQL, {writers} writer threads, {rounds} rounds of {seconds:g} s (creates/s)")
    print(f"  1 process   median {statistics.median(one):>7.0f}   rounds {', '.join(f'{x:.0f}' for x in one)}")
    print(f"  3 processes median {statistics.median(three):>7.0f}   rounds {', '.join(f'{x:.0f}' for x in three)}")
    print(f"  ratio 3 / 1: median {statistics.median(ratios):.2f} (spread {min(ratios):.2f}-{max(ratios):.2f})")


# ---- gateway: one worker against two ------------------------------------------------------------


def _seed_gateway(dsn: str, upstream: str) -> None:
    from laneway.api.kinds.serving import ModelService
    from laneway.store.postgres import PostgresStore
    from laneway.testing.fleet import add_gateway

    store = PostgresStore(dsn)
    try:
        add_gateway(store)  # the platform opens loopback, where the upstream listens
        target = _endpoint("up", upstream)
        target.metadata.labels = {"app": "bench"}
        endpoint = store.create(target)
        store.update_status(endpoint.model_copy(update={"status": endpoint.status.model_copy(update={"ready": True})}))
        store.create(ModelService.model_validate({
            "metadata": {"name": "bench", "namespace": "bench"},
            "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "bench"}}}],
                     "rateLimit": {"requestsPerMinute": 100_000_000}},
        }))
    finally:
        store.close()


CHAT = (b'{"id":"chatcmpl-1","object":"chat.completion","created":0,"model":"bench","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}')
_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(CHAT)) + CHAT


class _Upstream(asyncio.Protocol):
    """The cheapest OpenAI-shaped upstream this script can run: a raw asyncio protocol that reads
    each HTTP/1.1 request (headers, then Content-Length bytes of body, or a chunked body to its
    last chunk) and answers the same chat completion on the same kept-alive connection. It
    costs a fraction of the gateway's CPU per request, so the gateway stays the bottleneck
    (an aiohttp upstream costs about as much as the gateway itself)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].lower()
            body_start = head_end + 4
            if b"transfer-encoding: chunked" in head:
                last = self._buffer.find(b"\r\n0\r\n\r\n", body_start - 2)
                if last < 0:
                    return
                request_end = last + 7
            else:
                match = re.search(rb"content-length:\s*(\d+)", head)
                request_end = body_start + (int(match.group(1)) if match else 0)
                if len(self._buffer) < request_end:
                    return
            self._buffer = self._buffer[request_end:]
            assert self._transport is not None
            self._transport.write(_ANSWER)


def _serve_upstream(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Upstream, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


LOAD_START_DELAY = 3.0
"""Seconds between starting the Python load generator processes and the moment they all begin."""

_WRK_SCRIPT = (
    'wrk.method = "POST"\n'
    'wrk.headers["Content-Type"] = "application/json"\n'
    f"wrk.body = '{json.dumps(REQUEST)}'\n"
)


async def _load_window(port: int, start_at: float, seconds: float, concurrency: int) -> tuple[int, int, float]:
    """One Python load generator process (the fallback without `wrk`): from wall time `start_at`
    for `seconds`, `concurrency` clients each on its own connection; the requests answered inside
    that window, and when this process actually began (after `start_at` when it started too slowly)."""
    url = f"http://127.0.0.1:{port}/bench/bench/v1/chat/completions"
    done = 0
    failed = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        end = start_at + seconds

        async def client() -> None:
            nonlocal done, failed
            while time.time() < end:
                async with session.post(url, json=REQUEST) as r:
                    await r.read()
                    if time.time() > end:
                        break
                    if r.status == 200:
                        done += 1
                    else:
                        failed += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return done, failed, began


def _process_cpu(pids: tuple[int, ...]) -> list[float]:
    """CPU seconds used so far by each process in `pids` and its children (the supervisor's workers)."""
    import psutil

    totals: list[float] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            totals.append(0.0)
            continue
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        totals.append(total)
    return totals


def _worker_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each gateway worker under supervisor `pid` (or `pid` itself when it
    has no children: one worker serves in the process `laneway gateway` started)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = root.children() or [root]
    except psutil.NoSuchProcess:
        return {}
    figures: dict[int, float] = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        figures[proc.pid] = times.user + times.system
    return figures


def _split(before: dict[int, float], after: dict[int, float], elapsed: float) -> tuple[float, ...]:
    """Each worker's busy cores over the window, busiest first (how evenly the kernel spread the connections)."""
    return tuple(sorted(((after[pid] - before.get(pid, 0.0)) / elapsed for pid in after), reverse=True))


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy so far (every process, others' included)."""
    import psutil

    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass(frozen=True)
class LoadRun:
    requests_per_second: float
    gateway_cores: float
    """CPU the gateway processes used over the window, in cores (1.0: one core busy)."""
    upstream_cores: float
    load_cores: float
    store_cores: float
    """PostgreSQL's server processes (the shared limit's leases)."""
    machine_cores: float
    """The whole machine's busy CPU over the window: what is left after the parts above is other work."""
    late: float
    """Seconds the last load process began after the window opened (it started slowly)."""
    workers: tuple[float, ...] = ()
    """Each gateway worker's busy cores, busiest first."""

    @property
    def other_cores(self) -> float:
        """The machine's busy cores not spent by this benchmark's parts (other people's work)."""
        ours = self.gateway_cores + self.upstream_cores + self.load_cores + self.store_cores
        return max(0.0, self.machine_cores - ours)

    @property
    def gateway_us_per_request(self) -> float:
        return self.gateway_cores / self.requests_per_second * 1e6

    @property
    def others_us_per_request(self) -> float:
        """Upstream and load CPU per request: what the harness costs beside the gateway."""
        return (self.upstream_cores + self.load_cores) / self.requests_per_second * 1e6


@dataclass(frozen=True)
class Parts:
    gateway: int
    upstream: int
    store: int


def _load_wrk(wrk: str, port: int, parts: Parts, *, seconds: float, concurrency: int, threads: int) -> LoadRun:
    """Drive the gateway on `port` with `wrk` (C, epoll; a few microseconds of CPU per request)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        pids = (parts.gateway, parts.upstream, parts.store)
        cpu, split, busy, started = _process_cpu(pids), _worker_cpu(parts.gateway), _machine_busy(), time.perf_counter()
        proc = subprocess.Popen(
            [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "-s", script.name,
             f"http://127.0.0.1:{port}/bench/bench/v1/chat/completions"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # the load generator's own CPU from its rusage
        elapsed = time.perf_counter() - started
        used = [after - before for after, before in zip(_process_cpu(pids), cpu)]
        workers = _split(split, _worker_cpu(parts.gateway), elapsed)
        machine = _machine_busy() - busy
        proc.returncode = os.waitstatus_to_exitcode(status)
        out = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        raise RuntimeError(f"requests failed during the gateway benchmark:\n{out}")
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    load = usage.ru_utime + usage.ru_stime
    return LoadRun(float(rate.group(1)), used[0] / elapsed, used[1] / elapsed, load / elapsed, used[2] / elapsed,
                   machine / elapsed, 0.0, workers)


def _load_python(port: int, parts: Parts, *, seconds: float, concurrency: int, generators: int) -> LoadRun:
    """Drive the gateway on `port` from `generators` Python processes at once (the fallback when
    `wrk` is not installed: each costs about as much CPU per request as the gateway)."""
    start_at = time.time() + LOAD_START_DELAY
    shares = [concurrency // generators + (1 if i < concurrency % generators else 0) for i in range(generators)]
    procs = [subprocess.Popen([sys.executable, __file__, "--load", str(port), repr(start_at), str(seconds), str(n)],
                              stdout=subprocess.PIPE, text=True) for n in shares if n]
    try:
        time.sleep(max(0.0, start_at - time.time()))
        pids = (parts.gateway, parts.upstream, parts.store, *(p.pid for p in procs))
        cpu, split, busy = _process_cpu(pids), _worker_cpu(parts.gateway), _machine_busy()
        time.sleep(seconds)
        used = [after - before for after, before in zip(_process_cpu(pids), cpu)]
        workers = _split(split, _worker_cpu(parts.gateway), seconds)
        machine = _machine_busy() - busy
        done = failed = 0
        late = 0.0
        for proc in procs:
            out, _ = proc.communicate(timeout=60 + seconds)
            d, f, began = out.split()
            done, failed, late = done + int(d), failed + int(f), max(late, float(began) - start_at)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    if failed:
        raise RuntimeError(f"{failed} requests failed during the gateway benchmark")
    return LoadRun(done / seconds, used[0] / seconds, used[1] / seconds, sum(used[3:]) / seconds, used[2] / seconds,
                   machine / seconds, late, workers)


def _wait_serving(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"http://127.0.0.1:{port}/bench/bench/v1/chat/completions", json=REQUEST, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway on {port} did not serve within 90 s")


def _start_gateway(dsn: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    from laneway.testing.postgres import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--store", dsn,
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    return proc, port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def cores_available() -> int:
    """The cores this process may run on (its affinity, e.g. a container's cpuset), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _median_split(runs: list[LoadRun]) -> list[float]:
    """The workers' busy cores (busiest first), each the median over the rounds."""
    width = min(len(r.workers) for r in runs)
    return [statistics.median(r.workers[i] for r in runs) for i in range(width)]


def bench_gateway(pg: PostgresServer, seconds: float, rounds: int, concurrency: int, *, generators: int,
                  python_load: bool) -> None:
    from laneway.testing.postgres import free_port

    wrk = None if python_load else shutil.which("wrk")
    dsn = pg.create_database("bench_gateway")
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream", str(upstream_port)], start_new_session=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _seed_gateway(dsn, f"http://127.0.0.1:{upstream_port}")
        one_proc, one_port = _start_gateway(dsn, 1)
        two_proc, two_port = _start_gateway(dsn, 2)
        procs = [one_proc, two_proc]
        _wait_serving(one_port)
        _wait_serving(two_port)
        one: list[LoadRun] = []
        two: list[LoadRun] = []
        for r in range(rounds):
            order = [(one_proc, one_port, one), (two_proc, two_port, two)]
            for proc, port, figures in order if r % 2 == 0 else reversed(order):
                parts = Parts(gateway=proc.pid, upstream=upstream.pid, store=pg.pid or 0)
                if wrk:
                    figures.append(_load_wrk(wrk, port, parts, seconds=seconds, concurrency=concurrency, threads=1))
                else:
                    figures.append(_load_python(port, parts, seconds=seconds, concurrency=concurrency,
                                                generators=generators))
    finally:
        for p in procs:
            _stop(p)
        _stop(upstream)  # type: ignore[arg-type]
    ratios = [b.requests_per_second / a.requests_per_second for a, b in zip(one, two)]
    cores = cores_available()
    med = statistics.median

    def line(name: str, runs: list[LoadRun]) -> str:
        return (f"  {name:<10} median {med(r.requests_per_second for r in runs):>7.0f}   rounds "
                f"{', '.join(f'{r.requests_per_second:.0f}' for r in runs)}\n"
                f"             busy cores: gateway {med(r.gateway_cores for r in runs):.2f}, upstream "
                f"{med(r.upstream_cores for r in runs):.2f}, load {med(r.load_cores for r in runs):.2f}, "
                f"postgresql {med(r.store_cores for r in runs):.2f}, other work {med(r.other_cores for r in runs):.2f}"
                f"\n             per worker: {' / '.join(f'{c:.2f}' for c in _median_split(runs))}"
                f"\n             CPU per request: gateway {med(r.gateway_us_per_request for r in runs):.0f} us, "
                f"upstream + load {med(r.others_us_per_request for r in runs):.0f} us")

    load = (f"wrk (1 thread, {concurrency} connections)" if wrk
            else f"{generators} Python load processes (no wrk found: apt-get install wrk), concurrency {concurrency}")
    print(f"\ngateway, non-streamed, load from {load}, a raw-asyncio upstream, {rounds} rounds of {seconds:g} s "
          f"(requests/s)")
    print(line("1 worker", one))
    print(line("2 workers", two))
    print(f"  ratio 2 / 1: median {med(ratios):.2f} (spread {min(ratios):.2f}-{max(ratios):.2f}; rounds "
          f"{', '.join(f'{x:.2f}' for x in ratios)})")
    late = max(r.late for r in one + two)
    if late > 0.1:
        print(f"  a load process began {late:.1f} s into its window (a slow start): raise LOAD_START_DELAY on this machine")
    gateway_us = med(r.gateway_us_per_request for r in two)
    others_us = med(r.others_us_per_request for r in two)
    ceiling = cores * gateway_us / (gateway_us + others_us) if gateway_us + others_us else float(cores)
    print(f"  cores available: {cores} (os.cpu_count {os.cpu_count()}). With the upstream and the load on the same "
          f"cores, {cores} workers can reach about {ceiling:.2f}x one worker here (gateway CPU / (gateway + "
          f"harness CPU) per request, times {cores} cores), less the cores other work took ('other work' above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=("store", "api", "gateway"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=300, help="objects in the store comparison")
    parser.add_argument("--writers", type=int, default=12, help="API writer threads")
    parser.add_argument("--concurrency", type=int, default=64, help="gateway clients")
    parser.add_argument("--python-load", action="store_true",
                        help="drive the gateway from Python processes even when wrk is installed")
    parser.add_argument("--load-processes", type=int, default=2, help="Python load generator processes (without wrk)")
    parser.add_argument("--load", nargs=4, metavar=("PORT", "START", "SECONDS", "CONCURRENCY"), help=argparse.SUPPRESS)
    parser.add_argument("--upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        _serve_upstream(args.upstream)
        return
    if args.load:
        port, start_at, seconds, concurrency = args.load
        done, failed, began = asyncio.run(_load_window(int(port), float(start_at), float(seconds), int(concurrency)))
        print(done, failed, repr(began))
        return
    from laneway.testing.postgres import postgres_server

    parts = args.only or ["store", "api", "gateway"]
    with postgres_server() as pg:
        if "store" in parts:
            bench_store(pg, args.count)
        if "api" in parts:
            bench_api(pg, args.seconds, args.rounds, args.writers)
        if "gateway" in parts:
            bench_gateway(pg, args.seconds, args.rounds, args.concurrency, generators=args.load_processes,
                          python_load=args.python_load)


if __name__ == "__main__":
    main()
