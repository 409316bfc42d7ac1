"""The live control loop at fleet scale: `laneway up` with simulated clusters.

Starts a real `laneway up` (a subprocess, its own data directory and free ports, no local
cluster), applies GPU classes and N simulated clusters (`source: Simulated`, 8 pools each,
placement-only: no endpoints) through the API and waits for them to turn Ready, then applies
M deployments through the API and measures:

  placed+Ready   seconds from the last apply until every deployment reports all its replicas
                 scheduled and Ready;
  CPU            control-plane CPU seconds (the `laneway up` process, user + system) from the
                 first deployment applied until then;
  idle CPU       the process's CPU while nothing changes afterwards, as % of one core, over
                 `--idle` seconds (default 300: it includes one period of the controller
                 manager's resync, which compares resourceVersions and reconciles only what the
                 watch missed, and whatever the controllers still do after the last replica
                 turned Ready).

It does this twice in the same run: with the batched deployment controller (what `laneway up`
runs) and with `--plan-one-at-a-time` (one deployment per pass, re-reading the fleet each time),
and prints the ratio. A run that does not finish within `--timeout` reports how far it got.
Targets on a 2-core machine for 1,000 clusters and 2,000 deployments: placed+Ready within 60 s,
idle under 5% of a core.

    python benchmarks/fleet_live.py [--clusters 1000] [--deployments 2000] [--timeout 300] [--idle 300]
    python benchmarks/fleet_live.py --clusters 100 --deployments 200 --idle 20   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from laneway.api.conditions import is_true
from laneway.api.kinds import InferenceCluster, ModelDeployment
from laneway.api.meta import Resource
from laneway.client import Client
from laneway.paths import DataDir
from laneway.store import open_store
from laneway.store.base import Store
from laneway.testing.simfleet import gpu_classes, model_deployments, simulated_clusters

START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Outcome:
    mode: str
    placed_ready: int
    wanted: int
    seconds: float
    cpu: float
    idle_percent: float

    def line(self) -> str:
        done = "all" if self.placed_ready == self.wanted else f"{self.placed_ready} of {self.wanted}"
        return (
            f"{self.mode:<16} {done} placed+Ready in {self.seconds:7.1f} s after the last apply; "
            f"CPU {self.cpu:7.1f} s; idle CPU {self.idle_percent:5.1f}% of a core"
        )


class LanewayUp:
    """`laneway up` in a subprocess, stopped with SIGINT by whoever started it."""

    def __init__(self, data_dir: Path, *, one_at_a_time: bool) -> None:
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        self.log = (data_dir.parent / f"{data_dir.name}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(data_dir), "--port", str(free_port()),
             "--gateway-port", str(free_port()), "--no-local-cluster", "--log-level", "warning",
             *(["--plan-one-at-a-time"] if one_at_a_time else [])],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.ps = psutil.Process(self.process.pid)

    def client(self) -> Client:
        deadline = time.monotonic() + START_TIMEOUT
        info = self.data_dir / "server.json"
        while not info.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"laneway up did not start; see {self.log.name}")
            time.sleep(0.1)
        server = json.loads(info.read_text())["server"]
        return Client(server, DataDir(self.data_dir).read_admin_token(), timeout=120.0)

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def apply_all(client: Client, objects: list[Resource]) -> None:
    for obj in objects:
        client.create(obj)


def wait_clusters_ready(store: Store, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = store.list("InferenceCluster").items
        if sum(1 for c in items if isinstance(c, InferenceCluster) and is_true(c.status.conditions, "Ready")) >= count:
            return
        time.sleep(1.0)
    raise SystemExit(f"the {count} simulated clusters did not all turn Ready in {timeout:.0f} s")


def done_count(store: Store) -> tuple[int, int]:
    """(deployments with every replica scheduled and Ready, deployments)."""
    items = [d for d in store.list("ModelDeployment").items if isinstance(d, ModelDeployment)]
    done = sum(
        1
        for d in items
        if is_true(d.status.conditions, "ReplicasScheduled")
        and d.status.replicas is not None
        and d.status.replicas.ready >= d.spec.replicas
    )
    return done, len(items)


def run(mode: str, *, clusters: int, deployments: int, timeout: float, idle: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="laneway-fleet-live-") as tmp:
        data_dir = Path(tmp) / "data"
        up = LanewayUp(data_dir, one_at_a_time=mode == "one-at-a-time")
        try:
            client = up.client()
            # Progress is read from the store file, in this process: polling through the API
            # would add its own load to the CPU being measured.
            store = open_store(DataDir(data_dir).store_path)
            apply_all(client, [*gpu_classes(), *simulated_clusters(clusters)])
            wait_clusters_ready(store, clusters, timeout)
            cpu_start = up.cpu()
            apply_all(client, list(model_deployments(deployments)))
            last_apply = time.monotonic()
            done, total = 0, deployments
            while time.monotonic() - last_apply < timeout:
                done, total = done_count(store)
                if done >= deployments:
                    break
                time.sleep(2.0)
            seconds = time.monotonic() - last_apply
            cpu = up.cpu() - cpu_start
            idle_start = up.cpu()
            time.sleep(idle)
            idle_percent = 100.0 * (up.cpu() - idle_start) / idle
            store.close()
            client.close()
            return Outcome(mode, done, total, seconds, cpu, idle_percent)
        finally:
            up.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each mode may take after the last apply")
    parser.add_argument("--idle", type=float, default=300.0, help="seconds of idle CPU measured afterwards (300: one resync period)")
    parser.add_argument("--only", choices=["batched", "one-at-a-time"], help="run one mode only")
    args = parser.parse_args()
    modes = [args.only] if args.only else ["batched", "one-at-a-time"]
    print(f"fleet: {args.clusters} simulated clusters x 8 pools, {args.deployments} deployments (placement-only)")
    outcomes = []
    for mode in modes:
        outcome = run(mode, clusters=args.clusters, deployments=args.deployments, timeout=args.timeout, idle=args.idle)
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    if len(outcomes) == 2:
        batched, single = outcomes
        finished = single.placed_ready == single.wanted
        print(
            f"one-at-a-time / batched: {'' if finished else '>= '}{single.seconds / max(batched.seconds, 1e-9):.1f}x the time, "
            f"{single.cpu / max(batched.cpu, 1e-9):.1f}x the CPU"
            + ("" if finished else f" (one-at-a-time stopped at the {args.timeout:.0f} s limit)")
        )
        rate = [o.placed_ready / max(o.seconds, 1e-9) for o in outcomes]
        print(
            f"deployments placed+Ready per second: batched {rate[0]:.1f}, one-at-a-time {rate[1]:.2f} "
            f"({rate[0] / max(rate[1], 1e-9):.0f}x); CPU seconds per deployment: batched {batched.cpu / max(batched.placed_ready, 1):.3f}, "
            f"one-at-a-time {single.cpu / max(single.placed_ready, 1):.3f}"
        )


if __name__ == "__main__":
    main()
