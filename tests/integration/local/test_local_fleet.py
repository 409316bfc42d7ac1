"""The local fleet end to end: one real `laneway up` subprocess on free loopback ports, Local
clusters, simulator engines (and llama.cpp on a tiny GGUF), seen only from outside: the API,
the gateway with the official `openai` client, the engine processes under laneway, and the CLI.

One instance serves the whole module (starting one costs seconds on a small machine); each
test works in its own namespace, so the tests do not see each other's replicas. The fixture
stops laneway with SIGINT at the end and proves no engine process is left.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from local_fleet import Cli, Fleet, Up, alive, eventually, service, sim_deployment, wide_cluster

from laneway.api.conditions import find_condition
from laneway.api.kinds.platform import InferenceCluster

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def _cluster_ready(fleet: Fleet, name: str) -> bool:
    cluster = fleet.client.get("InferenceCluster", name)
    assert isinstance(cluster, InferenceCluster)
    ready = find_condition(cluster.status.conditions, "Ready")
    return ready is not None and ready.status == "True"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    up = Up.start(tmp_path_factory.mktemp("local-fleet") / "data")
    fleet: Fleet | None = None
    try:
        fleet = Fleet.connect(up)
        fleet.apply(wide_cluster())
        eventually("the test cluster lw-wide to be Ready", lambda: _cluster_ready(fleet, "lw-wide"))  # type: ignore[union-attr]
        yield fleet
    finally:
        engines = [p.pid for p in fleet.engine_processes()] if fleet else []
        if fleet:
            fleet.close()
        code = up.stop(signal.SIGINT)
        assert code == 0, up.output
        assert up.leftovers() == [] and alive(engines) == [], "engine processes left running after laneway up stopped"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory a confined engine can read: engines run as an unprivileged user with a private
    /tmp, so a model file from pytest's tmp_path (under /tmp, mode 0700) would be out of reach."""
    path = Path(tempfile.mkdtemp(prefix="laneway-test-", dir="/var/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _chat(base_url: str, model: str, *, stream: bool = False) -> str:
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)
    try:
        messages = [{"role": "user", "content": "hello"}]
        if not stream:
            answer = client.chat.completions.create(model=model, messages=messages, max_tokens=8)  # type: ignore[arg-type]
            assert answer.usage is not None and answer.usage.completion_tokens > 0
            return answer.choices[0].message.content or ""
        chunks = list(client.chat.completions.create(model=model, messages=messages, max_tokens=8, stream=True,  # type: ignore[arg-type]
                                                     stream_options={"include_usage": True}))
        assert chunks and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finally:
        client.close()


def test_example_deployment_goes_ready_on_the_local_cluster_and_answers_openai(fleet: Fleet) -> None:
    fleet.apply((EXAMPLES / "local" / "sim.yaml").read_text())
    (replica,) = fleet.ready_replicas("local-demo", "sim", 1)
    assert replica.spec.cluster_name == "local"

    (endpoint,) = fleet.endpoints("local-demo", "sim")
    labels = endpoint.metadata.labels
    assert labels["laneway.dev/deployment"] == "sim" and labels["laneway.dev/cluster"] == "local"
    assert labels["laneway.dev/source"] == "local", "an endpoint carries its cluster's labels"
    assert [p.replica for p in fleet.engine_processes("local-demo")] == [replica.name]

    url = fleet.service_url("local-demo", "sim")
    address = eventually("the service to publish its address",
                         lambda: fleet.client.get("ModelService", "sim", namespace="local-demo").status.address)  # type: ignore[attr-defined]
    assert address == url.removesuffix("/v1")
    assert _chat(url, "sim")
    assert _chat(url, "sim", stream=True)


def test_scaling_adds_and_removes_replicas_and_processes(fleet: Fleet) -> None:
    ns = "scale"
    fleet.apply(sim_deployment("scaler", ns, replicas=1))
    (first,) = fleet.ready_replicas(ns, "scaler", 1)
    (process,) = fleet.engine_processes(ns)

    assert fleet.client.scale("ModelDeployment", "scaler", 3, namespace=ns) == 3
    replicas = fleet.ready_replicas(ns, "scaler", 3)
    assert [r.name for r in replicas] == ["scaler-0", "scaler-1", "scaler-2"]
    assert all(r.spec.cluster_name == "lw-wide" for r in replicas)
    running = fleet.wait_engine_processes(ns, 3)
    assert sorted(p.replica for p in running) == ["scaler-0", "scaler-1", "scaler-2"]

    assert fleet.client.scale("ModelDeployment", "scaler", 1, namespace=ns) == 1
    (kept,) = fleet.ready_replicas(ns, "scaler", 1)
    assert kept.name == first.name and kept.metadata.uid == first.metadata.uid, "scale-down drops the highest index"
    left = fleet.wait_engine_processes(ns, 1)
    assert left[0].pid == process.pid, "the replica that stays keeps its process"
    assert alive([p.pid for p in running if p.replica != "scaler-0"]) == []


def test_a_killed_engine_restarts_and_its_endpoint_leaves_and_returns(fleet: Fleet) -> None:
    ns = "kill"
    fleet.apply(sim_deployment("victim", ns) + "---\n" + service("victim", ns))
    (replica,) = fleet.ready_replicas(ns, "victim", 1)
    (endpoint,) = fleet.endpoints(ns, "victim")
    (process,) = fleet.engine_processes(ns)
    assert _chat(fleet.service_url(ns, "victim"), "victim")

    os.kill(process.pid, signal.SIGKILL)
    eventually("the endpoint to leave while its engine is down", lambda: not fleet.endpoints(ns, "victim"), every=0.05)
    (back,) = fleet.ready_replicas(ns, "victim", 1)
    (returned,) = fleet.endpoints(ns, "victim")
    assert returned.spec.url == endpoint.spec.url, "the restarted engine keeps its port"
    (restarted,) = fleet.engine_processes(ns)
    assert restarted.pid != process.pid
    assert back.metadata.uid == replica.metadata.uid and (back.status.restarts or 0) >= 1
    assert _chat(fleet.service_url(ns, "victim"), "victim")


def test_a_crashing_engine_shows_crashloopbackoff_with_its_log(fleet: Fleet) -> None:
    ns = "crashloop"
    # A command of the team's own runs only on a cluster whose platform allowed any command.
    fleet.apply(wide_cluster(name="lw-any-command", region="test-any-command",
                             engines=[{"name": "anything", "image": "*", "allowCommand": True}]))
    eventually("the cluster lw-any-command to be Ready", lambda: _cluster_ready(fleet, "lw-any-command"))
    crash = "import sys; print('crashy: cannot load the model weights', flush=True); sys.exit(3)"
    fleet.apply(sim_deployment("crashy", ns, command=[sys.executable, "-c", crash], args=[],
                               match_labels={"laneway.dev/region": "test-any-command"}))

    def crashlooping() -> str | None:
        replicas = fleet.replicas(ns, "crashy")
        ready = find_condition(replicas[0].status.conditions, "Ready") if replicas else None
        return ready.message if ready is not None and ready.reason == "CrashLoopBackOff" else None

    message = eventually("the replica to show CrashLoopBackOff", crashlooping)
    assert "exited with code 3" in message and "crashy: cannot load the model weights" in message
    (replica,) = fleet.replicas(ns, "crashy")
    assert replica.status.phase == "Failed" and (replica.status.restarts or 0) >= 3
    assert fleet.endpoints(ns, "crashy") == []

    logs = Cli(fleet.up.data_dir)("logs", "mr/crashy-0", "-n", ns)
    assert logs.exit_code == 0, logs.output
    assert logs.output.count("crashy: cannot load the model weights") >= 3 and "--- laneway: starting" in logs.output

    fleet.client.delete("ModelDeployment", "crashy", namespace=ns)
    eventually("the crashing replica to go", lambda: not fleet.replicas(ns, "crashy"))
    fleet.client.delete("InferenceCluster", "lw-any-command")


def test_deleting_a_deployment_leaves_no_engine_process(fleet: Fleet) -> None:
    ns = "delete"
    fleet.apply(sim_deployment("doomed", ns, replicas=2))
    fleet.ready_replicas(ns, "doomed", 2)
    pids = [p.pid for p in fleet.wait_engine_processes(ns, 2)]

    fleet.client.delete("ModelDeployment", "doomed", namespace=ns)
    eventually("the replicas and endpoints to go",
               lambda: not fleet.replicas(ns, "doomed") and not fleet.endpoints(ns, "doomed"))
    assert fleet.engine_processes(ns) == [] and alive(pids) == []


def test_a_two_cluster_fleet_places_replicas_by_cluster_labels(fleet: Fleet) -> None:
    ns = "sovereign"
    for name in ("classes.yaml", "clusters.yaml"):
        fleet.apply((EXAMPLES / "platform" / name).read_text())
    for cluster in ("local-eu", "local-us"):
        eventually(f"cluster {cluster} to be Ready", lambda cluster=cluster: _cluster_ready(fleet, cluster))

    fleet.apply(sim_deployment("eu-only", ns, replicas=2, match_labels={"laneway.dev/jurisdiction": "eu"}))
    # local-us is tainted for maintenance in the example: a deployment for it tolerates that.
    fleet.apply(sim_deployment("us-only", ns, match_labels={"laneway.dev/jurisdiction": "us"},
                               tolerate="laneway.dev/maintenance"))
    eu = fleet.ready_replicas(ns, "eu-only", 2)
    us = fleet.ready_replicas(ns, "us-only", 1)
    assert {r.spec.cluster_name for r in eu} == {"local-eu"}
    assert {r.spec.cluster_name for r in us} == {"local-us"}
    for e in fleet.endpoints(ns, "eu-only"):
        assert e.metadata.labels["laneway.dev/cluster"] == "local-eu"
        assert e.metadata.labels["laneway.dev/jurisdiction"] == "eu"
    (us_endpoint,) = fleet.endpoints(ns, "us-only")
    assert us_endpoint.metadata.labels["laneway.dev/jurisdiction"] == "us"
    assert sorted(p.replica for p in fleet.engine_processes(ns)) == ["eu-only-0", "eu-only-1", "us-only-0"]


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None,
                    reason="the real-engine test needs llama.cpp: pip install -e '.[llamacpp]' (xllamacpp)")
@pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason="writing the tiny GGUF needs gguf: pip install -e '.[dev]'")
def test_llamacpp_serves_a_tiny_gguf_through_the_service_url(fleet: Fleet, shared_dir: Path) -> None:
    from laneway.engines.tiny_gguf import write_tiny_llama_gguf

    ns = "real"
    model = write_tiny_llama_gguf(shared_dir / "tiny-llama.gguf")
    model.chmod(0o644)
    args = ["--model", str(model), "--port", "$(LANEWAY_PORT)", "--served-model-name", "tiny",
            "--n-parallel", "1", "--ctx-size", "512", "--threads", "1"]
    fleet.apply(sim_deployment("tiny", ns, command=["laneway", "engine", "llamacpp"], args=args) + "---\n" + service("tiny", ns))
    fleet.ready_replicas(ns, "tiny", 1, timeout=90)
    url = fleet.service_url(ns, "tiny")
    assert isinstance(_chat(url, "tiny"), str)  # random weights: word salad, but real llama.cpp tokens
    _chat(url, "tiny", stream=True)


def test_deleting_a_cluster_and_then_its_deployment_leaves_no_engine_process(fleet: Fleet) -> None:
    ns = "orphan"
    doomed = wide_cluster(name="lw-doomed", region="test-doomed")
    fleet.apply(doomed)
    eventually("the cluster lw-doomed to be Ready", lambda: _cluster_ready(fleet, "lw-doomed"))
    fleet.apply(sim_deployment("orphan", ns, match_labels={"laneway.dev/region": "test-doomed"}))
    (replica,) = fleet.ready_replicas(ns, "orphan", 1)
    assert replica.spec.cluster_name == "lw-doomed"
    pids = [p.pid for p in fleet.wait_engine_processes(ns, 1)]

    fleet.client.delete("InferenceCluster", "lw-doomed")
    eventually("the endpoint of a replica whose cluster is gone to leave", lambda: not fleet.endpoints(ns, "orphan"))
    fleet.client.delete("ModelDeployment", "orphan", namespace=ns)
    eventually("the replicas to go", lambda: not fleet.replicas(ns, "orphan"))
    fleet.wait_engine_processes(ns, 0, timeout=20)
    assert alive(pids) == []
