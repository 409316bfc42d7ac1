"""Caches on machines (issue 17): a ModelCache a replica on a Machines cluster needs is staged
by each machine's agent on its own disk, with the Local driver's cache code (a Local source
read only under the cluster's `cacheRoots`, on the machine), reported back, Ready on the cluster
once every Ready machine has it; the engine gets it mounted as on a Local cluster. Removing the
cache removes the machine's copy; removing the machine cuts its agent off."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from local_fleet import Fleet, engine_processes_under, eventually
from machines_harness import running_fleet, start_agent

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica

WAIT = 90.0


@pytest.fixture
def weights() -> Iterator[Path]:
    """A model directory the agent may read (under a cache root) and a confined engine too."""
    root = Path(tempfile.mkdtemp(prefix="laneway-machines-", dir="/var/tmp"))
    root.chmod(0o755)
    (root / "model").mkdir()
    (root / "model" / "weights.bin").write_bytes(b"w" * 4096)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from running_fleet(tmp_path_factory.mktemp("machines-caches") / "data")


def _manifest(root: Path) -> str:
    return f"""
apiVersion: laneway.dev/v1alpha1
kind: InferenceClass
metadata: {{name: rack-cpu}}
spec: {{devices: [{{name: cpu, claim: Synthetic, driver: cpu.laneway.dev, count: 1}}]}}
---
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {{name: rack, labels: {{laneway.dev/source: machines}}}}
spec:
  cluster: {{source: Machines, machines: {{cacheRoots: [{root}]}}}}
  nodePools: [{{name: cpu, className: rack-cpu, accounting: Device}}]
---
apiVersion: laneway.dev/v1alpha1
kind: ModelCache
metadata: {{name: weights, namespace: rack-demo}}
spec:
  source: Local
  local: {{path: {root}/model}}
  clusterSelector: {{matchLabels: {{laneway.dev/source: machines}}}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: cached, namespace: rack-demo}}
spec:
  replicas: 1
  template:
    spec:
      clusterSelector: {{matchLabels: {{laneway.dev/source: machines}}}}
      modelCacheRef: {{name: weights}}
      engines:
      - name: sim
        members:
        - nodeSelector: {{devices: [{{name: cpu, selectors: [{{cel: 'device.driver == "cpu.laneway.dev"'}}]}}]}}
          template: {{spec: {{containers: [{{name: engine, image: laneway/engine-sim, command: [laneway, engine, sim],
                                            args: ["--port", "$(LANEWAY_PORT)", "--served-model-name", "cached"]}}]}}}}
"""


def _cache(fleet: Fleet) -> ModelCache | None:
    cache = fleet.client.get("ModelCache", "weights", namespace="rack-demo")
    return cache if isinstance(cache, ModelCache) else None


def test_an_agent_stages_the_cache_its_replica_needs_and_removes_it_after(fleet: Fleet, tmp_path: Path, weights: Path) -> None:
    fleet.apply(_manifest(weights))
    token = fleet.client.join_token("rack")["token"]
    agent = start_agent(tmp_path, f"http://127.0.0.1:{fleet.up.port}", "cpu-a", token=token, gpus=0)
    try:
        def staged() -> bool:
            cache = _cache(fleet)
            return cache is not None and [(c.cluster, c.state) for c in cache.status.clusters] == [("rack", "Ready")]

        eventually("the cache to be Ready on rack", staged, timeout=WAIT)
        copies = list((tmp_path / "cpu-a" / "caches").rglob("weights.bin"))
        assert copies and all(c.read_bytes() == b"w" * 4096 for c in copies), "staged on the machine's own disk"

        def running() -> dict[str, str] | None:
            replicas = [r for r in fleet.replicas("rack-demo", "cached") if isinstance(r, ModelReplica)]
            if len(replicas) != 1 or replicas[0].status.phase != "Ready":
                return None
            engines = [p for p in engine_processes_under(agent.process.pid) if p.replica.startswith("cached")]
            return dict(psutil.Process(engines[0].pid).environ()) if engines else None

        env = eventually("the replica to run with its cache mounted", running, timeout=WAIT)
        mounted = Path(env["LANEWAY_MODEL_CACHE"])
        assert mounted.is_relative_to(tmp_path / "cpu-a" / "caches") and (mounted / "weights.bin").exists()

        fleet.client.delete("ModelDeployment", "cached", namespace="rack-demo")
        eventually("the replica to go", lambda: not fleet.replicas("rack-demo", "cached"), timeout=WAIT)
        fleet.client.delete("ModelCache", "weights", namespace="rack-demo")
        eventually("the machine's copy to be removed", lambda: not mounted.exists(), timeout=WAIT)

        # Removed from the cluster, the machine is cut off: its agent exits and forgets its credential.
        assert fleet.client.remove_machine("rack", "cpu-a")["credentialsRevoked"] == 1
        assert agent.process.wait(timeout=WAIT) == 1
        assert "revoked" in agent.output and not (agent.data_dir / "agent.json").exists()
    finally:
        agent.stop()
