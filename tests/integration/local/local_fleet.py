"""A real `laneway up` with Local clusters, seen from the outside: helpers of tests/integration/local.

The process harness (`Up`, `Cli`) is the CLI tests' one (tests/integration/cli/cli_harness.py);
this module adds what the local-fleet tests look at: objects through the typed API client,
manifests written from a few parameters, and the engine processes running under `laneway up`,
found among its descendants with psutil and told apart by the `LANEWAY_REPLICA` variable the
local driver gives each of them. Every wait is bounded by a deadline and fails with what it
last saw, so a broken product fails the test instead of hanging it.

(A uniquely named module, so that importing it never collides with another folder's helpers.)
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_harness import Cli, Up, free_port

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.manifest import load_text
from laneway.client import Client

__all__ = ["Cli", "EngineProcess", "Fleet", "Up", "alive", "eventually", "free_port", "service", "sim_deployment", "wide_cluster"]

DEADLINE = 60.0
T = TypeVar("T")

# A Local cluster with room for many small replicas, whatever this machine has: its class is
# Synthetic, so nothing is claimed, and placement only counts its 16 `cpu` devices.
WIDE_CLASS = "lw-test-cpu16"
WIDE_CLUSTER = "lw-wide"


def wide_cluster(*, name: str = WIDE_CLUSTER, region: str = "test-wide", engines: list[dict[str, Any]] | None = None) -> str:
    """The 16-slot test class and a Local cluster using it, labelled `laneway.dev/region: <region>`;
    `engines` is its `spec.cluster.local.engines` (laneway's own engines when None)."""
    local = "{}" if engines is None else json.dumps({"engines": engines})
    return textwrap.dedent(f"""\
        apiVersion: laneway.dev/v1alpha1
        kind: InferenceClass
        metadata: {{name: {WIDE_CLASS}}}
        spec:
          description: "16 synthetic CPU slots for tests"
          devices:
          - {{name: cpu, claim: Synthetic, driver: cpu.laneway.dev, count: 16}}
        ---
        apiVersion: laneway.dev/v1alpha1
        kind: InferenceCluster
        metadata:
          name: {name}
          labels: {{laneway.dev/region: {region}, laneway.dev/tier: test}}
        spec:
          cluster: {{source: Local, local: {local}}}
          nodePools:
          - {{name: cpu, className: {WIDE_CLASS}, nodeCount: 1, accounting: Device}}
        """)


def sim_deployment(
    name: str,
    namespace: str,
    *,
    replicas: int = 1,
    match_labels: dict[str, str] | None = None,
    command: list[str] | None = None,
    args: list[str] | None = None,
    tolerate: str | None = None,
) -> str:
    """A ModelDeployment (YAML) of one Standalone engine asking for one `cpu`-driver device: the
    simulator, quick to answer, unless `command` says otherwise; on the lw-wide cluster unless
    `match_labels` select other clusters; `tolerate` names a NoSchedule taint key to tolerate."""
    labels = match_labels if match_labels is not None else {"laneway.dev/region": "test-wide"}
    command = command if command is not None else ["laneway", "engine", "sim"]
    args = args if args is not None else ["--port", "$(LANEWAY_PORT)", "--served-model-name", name,
                                          "--ttft", "0", "--itl", "0.001", "--max-tokens", "8"]
    template: dict[str, Any] = {
        "clusterSelector": {"matchLabels": labels},
        "engines": [{
            "name": "engine",
            "members": [{
                "nodeSelector": {"devices": [{
                    "name": "compute",
                    "count": 1,
                    "selectors": [{"cel": 'device.driver == "cpu.laneway.dev" || device.driver == "gpu.nvidia.com"'}],
                }]},
                "template": {"spec": {"containers": [
                    {"name": "engine", "image": "laneway/engine-sim", "command": command, "args": args},
                ]}},
            }],
        }],
    }
    if tolerate:
        template["tolerations"] = [{"key": tolerate, "operator": "Exists", "effect": "NoSchedule"}]
    return yaml.safe_dump({
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": {"laneway.dev/job": "integration test of the local fleet"}},
        "spec": {"replicas": replicas, "template": {"spec": template}},
    }, sort_keys=False)


def service(name: str, namespace: str, *, deployment: str | None = None) -> str:
    """A ModelService over one deployment's endpoints, answering to the service's own name."""
    return textwrap.dedent(f"""\
        apiVersion: laneway.dev/v1alpha1
        kind: ModelService
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          modelNames: [{name}]
          endpoints:
          - selector: {{matchLabels: {{laneway.dev/deployment: {deployment or name}}}}}
          owner: {{team: tests, contact: tests@example.com}}
        """)


def eventually(what: str, probe: Callable[[], T | None], *, timeout: float = DEADLINE, every: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy and return it; fail naming `what` (and the
    last value seen) after `timeout` seconds."""
    end = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(every)


@dataclass(frozen=True)
class EngineProcess:
    pid: int
    replica: str
    namespace: str
    cmdline: tuple[str, ...]


@dataclass
class Fleet:
    """A running `laneway up` and an admin API client to it."""

    up: Up
    client: Client

    @classmethod
    def connect(cls, up: Up) -> Fleet:
        up.wait_ready()
        token = (up.data_dir / "admin.token").read_text().strip()
        return cls(up=up, client=Client(f"http://127.0.0.1:{up.port}", token, timeout=30))

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.up.gateway_port}"

    def service_url(self, namespace: str, name: str) -> str:
        """The OpenAI base URL of a service: the gateway's path route `/{namespace}/{service}/v1`,
        once the gateway routes it. A replica's endpoint reaches the gateway's routing table a
        moment after the replica turns Ready (the table follows the store's revision stream)."""
        url = f"{self.gateway}/{namespace}/{name}/v1"

        def routable() -> bool:
            try:
                return httpx.get(f"{url}/models", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(f"the gateway to route {namespace}/{name}", routable, timeout=20)
        return url

    def apply(self, text: str) -> None:
        for obj in load_text(text):
            self.client.apply(obj)

    def replicas(self, namespace: str, deployment: str) -> list[ModelReplica]:
        items = self.client.list("ModelReplica", namespace=namespace, label_selector=f"laneway.dev/deployment={deployment}").items
        return sorted((r for r in items if isinstance(r, ModelReplica)), key=lambda r: r.name)

    def endpoints(self, namespace: str, deployment: str) -> list[ModelEndpoint]:
        items = self.client.list("ModelEndpoint", namespace=namespace, label_selector=f"laneway.dev/deployment={deployment}").items
        return sorted((e for e in items if isinstance(e, ModelEndpoint)), key=lambda e: e.name)

    def ready_replicas(self, namespace: str, deployment: str, count: int, *, timeout: float = DEADLINE) -> list[ModelReplica]:
        """Wait until the deployment has exactly `count` replicas, all Ready with an endpoint each."""

        def probe() -> list[ModelReplica] | None:
            replicas = self.replicas(namespace, deployment)
            ready = [r for r in replicas if r.status.phase == "Ready" and not r.metadata.deletion_timestamp]
            endpoints = self.endpoints(namespace, deployment)
            if len(replicas) == count and len(ready) == count and len(endpoints) == count:
                return replicas
            return None

        try:
            return eventually(f"{count} Ready replica(s) of {namespace}/{deployment}", probe, timeout=timeout, every=0.2)
        except AssertionError as e:
            seen = [(r.name, r.status.phase, [(c.reason, c.message) for c in r.status.conditions]) for r in self.replicas(namespace, deployment)]
            raise AssertionError(f"{e}\nreplicas: {seen}\n--- laneway up:\n{self.up.output[-3000:]}") from None

    def engine_processes(self, namespace: str | None = None, *, prefix: str = "") -> list[EngineProcess]:
        """Engine processes under this `laneway up`, optionally of one namespace and replica-name prefix."""
        return [p for p in engine_processes_under(self.up.process.pid) if (namespace is None or p.namespace == namespace)
                and p.replica.startswith(prefix)]

    def wait_engine_processes(self, namespace: str, count: int, *, timeout: float = DEADLINE) -> list[EngineProcess]:
        """Wait until exactly `count` engine processes of `namespace` run under laneway."""

        def probe() -> list[EngineProcess] | None:
            found = self.engine_processes(namespace)
            return found if len(found) == count else None

        if count == 0:
            eventually(f"no engine process in {namespace}", lambda: not self.engine_processes(namespace), timeout=timeout)
            return []
        return sorted(eventually(f"{count} engine process(es) in {namespace}", probe, timeout=timeout), key=lambda p: p.replica)

    def close(self) -> None:
        self.client.close()


def engine_processes_under(root_pid: int) -> list[EngineProcess]:
    """Every live descendant of `root_pid` that the local driver started (it carries LANEWAY_REPLICA)."""
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            env = child.environ()
            if "LANEWAY_REPLICA" in env:
                out.append(EngineProcess(child.pid, env["LANEWAY_REPLICA"], env.get("LANEWAY_NAMESPACE", ""), tuple(child.cmdline())))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def alive(pids: list[int]) -> list[int]:
    """The pids of `pids` that still run (zombies count as gone)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out
