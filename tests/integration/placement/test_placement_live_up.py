"""The live scheduler through a real `laneway up` with simulated clusters: a deployment waiting
for capacity is placed when another scales down (without being touched), and the replicas of
a cluster that stays NotReady past its grace period are placed elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from laneway.api.conditions import find_condition, is_true
from laneway.api.kinds import InferenceCluster, ModelDeployment, ModelReplica
from laneway.client import Client
from laneway.paths import DataDir
from laneway.testing.simfleet import gpu_classes, model_deployment, simulated_cluster

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Up

WAIT = 60.0  # generous: a loaded machine is slow, the test asserts what happens, not how fast
T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got is not None and got is not False:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout:.0f}s: {what}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    data_dir = tmp_path_factory.mktemp("live") / "data"
    up = Up.start(data_dir, local_cluster=False)
    try:
        info = up.wait_ready()
        client = Client(info["server"], DataDir(data_dir).read_admin_token())
        for obj in gpu_classes():
            client.create(obj)
        yield client
        client.close()
    finally:
        assert up.stop() == 0, up.output


def replicas_of(client: Client, namespace: str, name: str) -> list[ModelReplica]:
    return [
        r
        for r in client.list("ModelReplica", namespace=namespace).items
        if isinstance(r, ModelReplica) and r.metadata.labels.get("laneway.dev/deployment") == name
    ]


def ready_replicas(client: Client, namespace: str, name: str) -> list[ModelReplica] | None:
    rs = [r for r in replicas_of(client, namespace, name) if is_true(r.status.conditions, "Ready") and not r.metadata.deletion_timestamp]
    return rs or None


def cluster_ready(client: Client, name: str) -> bool:
    c = client.get("InferenceCluster", name)
    return isinstance(c, InferenceCluster) and is_true(c.status.conditions, "Ready")


def test_a_waiting_deployment_is_placed_when_another_scales_down(fleet: Client) -> None:
    client = fleet
    client.create(simulated_cluster("solo", [("p", "h100", 1)], labels={"scenario": "scale"}))
    eventually("cluster solo Ready", lambda: cluster_ready(client, "solo"))
    big = model_deployment("big", namespace="scale", gpus=8, region=None)
    big.spec.template.spec.cluster_selector.match_labels = {"scenario": "scale"}
    client.create(big)
    eventually("big placed and Ready", lambda: ready_replicas(client, "scale", "big"))

    waiting = model_deployment("waiting", namespace="scale", gpus=8)
    waiting.spec.template.spec.cluster_selector.match_labels = {"scenario": "scale"}
    created = client.create(waiting)

    def short() -> ModelDeployment | None:
        d = client.get("ModelDeployment", "waiting", namespace="scale")
        c = find_condition(d.status.conditions, "ReplicasScheduled")  # type: ignore[attr-defined]
        return d if c is not None and c.reason == "InsufficientCapacity" else None  # type: ignore[return-value]

    before = eventually("waiting reported short of capacity", short)
    assert "solo" in (find_condition(before.status.conditions, "ReplicasScheduled").message or "")  # type: ignore[union-attr]
    assert not replicas_of(client, "scale", "waiting")

    client.scale("ModelDeployment", "big", 0, namespace="scale")
    placed = eventually("waiting placed once big scaled to zero", lambda: ready_replicas(client, "scale", "waiting"))
    assert [r.spec.cluster_name for r in placed] == ["solo"]
    after = client.get("ModelDeployment", "waiting", namespace="scale")
    assert after.metadata.generation == created.metadata.generation, "nobody edited the waiting deployment"
    assert not [r for r in replicas_of(client, "scale", "big") if not r.metadata.deletion_timestamp]


def test_replicas_of_a_lost_cluster_are_placed_elsewhere(fleet: Client) -> None:
    client = fleet
    for name in ("east", "west"):
        client.create(simulated_cluster(name, [("p", "h100", 1)], labels={"scenario": "lost"}, grace="2s"))
        eventually(f"cluster {name} Ready", lambda name=name: cluster_ready(client, name))
    d = model_deployment("m", namespace="lost", gpus=8)
    d.spec.template.spec.cluster_selector.match_labels = {"scenario": "lost"}
    client.create(d)
    [first] = eventually("m placed and Ready", lambda: ready_replicas(client, "lost", "m"))
    home = first.spec.cluster_name
    other = "west" if home == "east" else "east"

    client.patch("InferenceCluster", home, {"spec": {"cluster": {"simulated": {"reachable": False}}}})
    eventually(f"cluster {home} NotReady", lambda: not cluster_ready(client, home))

    def moved() -> list[ModelReplica] | None:
        rs = replicas_of(client, "lost", "m")
        live = [r for r in rs if not r.metadata.deletion_timestamp]
        if len(rs) == 1 and live and live[0].spec.cluster_name == other and is_true(live[0].status.conditions, "Ready"):
            return live
        return None

    [replacement] = eventually("m replaced on the other cluster, the stranded one removed", moved)
    assert replacement.metadata.annotations.get("laneway.dev/replaces") == first.name
    m = client.get("ModelDeployment", "m", namespace="lost")
    assert is_true(m.status.conditions, "ReplicasReady"), m.status  # type: ignore[attr-defined]
