"""Machines join the fleet (issue 17), end to end on this machine: a real `laneway up` and three
`laneway agent` processes, each with its own data directory and its own devices (two and one
H200 from the recorded NVML reading, and a machine with no GPU), joined with one-use tokens
the platform lane mints. The README's examples and examples/machines/rack.yaml are applied;
the rack's model fits only the H200 machines.

It shows: machines join the pool their discovered devices cover; the replica runs on an H200
machine, started by that machine's agent; it answers through the gateway; a machine that goes
silent is NotReady and its replica moves to the other H200 machine; when it comes back its
agent stops the engine it no longer runs; an agent killed outright loses its replica to
another machine too; while the control plane is away the agent keeps its engine running and
carries on when it returns; the killed agent starts again from its data directory, and a gang
spreads over both H200 machines with its leader's address and ranks. Nothing is left running
at the end.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from local_fleet import Cli, Fleet, Up, alive, engine_processes_under, eventually
from machines_harness import ROOT, AgentProcess, running_fleet, start_agent

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, MachineStatus

EXAMPLES = ROOT / "examples"
GRACE = "3s"
WAIT = 90.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from running_fleet(tmp_path_factory.mktemp("machines") / "data")


def _start_agent(tmp: Path, up: Up, name: str, token: str | None, gpus: int) -> AgentProcess:
    return start_agent(tmp, f"http://127.0.0.1:{up.port}", name, token=token, gpus=gpus)


def _rack(fleet: Fleet) -> InferenceCluster:
    cluster = fleet.client.get("InferenceCluster", "rack")
    assert isinstance(cluster, InferenceCluster)
    return cluster


def _machines(fleet: Fleet) -> dict[str, MachineStatus]:
    return {m.name: m for m in _rack(fleet).status.machines}


def _holder(fleet: Fleet) -> str | None:
    """The machine the rack-sim replica is assigned to and Ready on, if any."""
    replicas = [r for r in fleet.replicas("rack-demo", "rack-sim") if isinstance(r, ModelReplica)]
    if len(replicas) != 1 or replicas[0].status.phase != "Ready":
        return None
    uid = replicas[0].metadata.uid
    for m in _machines(fleet).values():
        if m.ready and any(a.uid == uid for a in m.assignments) and any(r.uid == uid and r.ready for r in m.reports):
            return m.name
    return None


def _answer(fleet: Fleet, model: str = "rack-sim") -> str | None:
    try:
        response = httpx.post(f"{fleet.gateway}/v1/chat/completions", timeout=10, json={
            "model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "hello rack"}]})
    except httpx.HTTPError:
        return None
    return str(response.json()["choices"][0]["message"]["content"]) if response.status_code == 200 else None


def _engines(agent: AgentProcess) -> list[int]:
    return [p.pid for p in engine_processes_under(agent.process.pid) if p.replica.startswith(("rack-sim", "rack-gang"))]


@dataclass(frozen=True)
class GangPod:
    machine: str
    env: dict[str, str]


def _gang(fleet: Fleet, agents: dict[str, AgentProcess]) -> tuple[GangPod, GangPod] | None:
    """The gang's Leader and Worker engine processes, once both run and the replica is Ready."""
    replicas = fleet.replicas("rack-demo", "rack-gang")
    if len(replicas) != 1 or replicas[0].status.phase != "Ready":
        return None
    pods: dict[str, GangPod] = {}
    for name, agent in agents.items():
        for p in engine_processes_under(agent.process.pid):
            if p.replica.startswith("rack-gang"):
                env = psutil.Process(p.pid).environ()
                pods[env["LANEWAY_RANK"]] = GangPod(name, env)
    return (pods["0"], pods["1"]) if set(pods) == {"0", "1"} else None


GANG = """
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {name: rack-gang, namespace: rack-demo}
spec:
  replicas: 1
  template:
    spec:
      clusterSelector: {matchLabels: {laneway.dev/source: machines}}
      engines:
      - name: sim
        members:
        - role: Leader
          nodeSelector: {devices: [{name: gpu, selectors: [{cel: 'device.attributes["gpu.nvidia.com"].productName == "NVIDIA H200"'}]}]}
          template: {spec: {containers: [{name: engine, image: laneway/engine-sim, command: [laneway, engine, sim],
                                          args: ["--port", "$(LANEWAY_PORT)", "--served-model-name", "rack-gang"]}]}}
        - role: Worker
          worker: {nodes: 1}
          nodeSelector: {devices: [{name: gpu, selectors: [{cel: 'device.attributes["gpu.nvidia.com"].productName == "NVIDIA H200"'}]}]}
          template: {spec: {containers: [{name: engine, image: laneway/engine-sim, command: [laneway, engine, sim],
                                          args: ["--port", "$(LANEWAY_PORT)", "--served-model-name", "rack-gang-worker"]}]}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {name: rack-gang, namespace: rack-demo}
spec:
  modelNames: [rack-gang]
  endpoints: [{selector: {matchLabels: {laneway.dev/deployment: rack-gang}}}]
  owner: {team: tests, contact: tests@example.com}
"""


def test_machines_join_run_move_and_return(fleet: Fleet, tmp_path: Path) -> None:
    cli = Cli(fleet.up.data_dir)
    for folder in ("platform", "models"):
        applied = cli("apply", "-f", str(EXAMPLES / folder))
        assert applied.exit_code == 0, applied.output
    rack = (EXAMPLES / "machines" / "rack.yaml").read_text().replace("heartbeatGracePeriod: 15s", f"heartbeatGracePeriod: {GRACE}")
    manifest = tmp_path / "rack.yaml"
    manifest.write_text(rack)
    applied = cli("apply", "-f", str(manifest))
    assert applied.exit_code == 0, applied.output

    # No machine yet: the cluster is harmless, NotReady with nothing placed on it.
    eventually("rack to say no machine has joined", lambda: any(
        c.type == "Ready" and c.status == "False" and "no machine has joined" in c.message for c in _rack(fleet).status.conditions))
    assert fleet.replicas("rack-demo", "rack-sim") == []

    platform = cli("token", "create", "--role", "platform").stdout.strip()
    tokens = []
    for _ in range(3):
        minted = cli("cluster", "join-token", "rack", "--ttl", "10m", token=platform)
        assert minted.exit_code == 0, minted.output
        tokens.append(minted.stdout.strip())
    agents = {
        "gpu-a": _start_agent(tmp_path, fleet.up, "gpu-a", tokens[0], gpus=2),
        "gpu-b": _start_agent(tmp_path, fleet.up, "gpu-b", tokens[1], gpus=1),
        "cpu-c": _start_agent(tmp_path, fleet.up, "cpu-c", tokens[2], gpus=0),
    }
    engine_pids: list[int] = []
    try:
        # Joined into the pools their devices cover; the pools publish their Ready machines.
        machines = eventually("three machines to join", lambda: (lambda ms: ms if len(ms) == 3 else None)(_machines(fleet)),
                              timeout=WAIT)
        assert {n: m.pool for n, m in machines.items()} == {"gpu-a": "h200", "gpu-b": "h200", "cpu-c": "cpu"}
        assert (machines["gpu-a"].devices, machines["gpu-b"].devices) == ("2 x NVIDIA H200", "1 x NVIDIA H200")
        assert "H200" not in machines["cpu-c"].devices and machines["cpu-c"].device_count == os.cpu_count()
        eventually("the pools to publish their machines", lambda: {p.name: p.nodes for p in _rack(fleet).status.gpu_pools} == {"h200": 2, "cpu": 1},
                   timeout=WAIT)
        for agent in agents.values():
            assert (agent.data_dir / "agent.json").stat().st_mode & 0o077 == 0, "the credential file is the agent's alone"

        # The H200-only model runs on an H200 machine, started by that machine's agent.
        first = eventually("rack-sim to run on an H200 machine", lambda: _holder(fleet), timeout=WAIT)
        assert first in ("gpu-a", "gpu-b")
        other = "gpu-b" if first == "gpu-a" else "gpu-a"
        eventually(f"{first}'s agent to run the engine", lambda: _engines(agents[first]), timeout=WAIT)
        (report,) = _machines(fleet)[first].reports
        assert [(m.id, m.phase, m.restarts) for m in report.members] == [("sim-0-standalone-0", "Ready", 0)]
        assert _engines(agents[other]) == [] and _engines(agents["cpu-c"]) == []
        assert not [p for p in engine_processes_under(fleet.up.process.pid) if p.replica.startswith("rack-sim")], (
            "no engine of it runs under laneway up")
        assert eventually("an answer through the gateway", lambda: _answer(fleet), timeout=WAIT)
        stranded = _engines(agents[first])
        engine_pids += stranded

        # The machine goes silent (its agent stopped; its engine keeps running): NotReady, and
        # the replica moves to the other H200 machine, which answers.
        os.kill(agents[first].process.pid, signal.SIGSTOP)
        eventually(f"{first} to turn NotReady", lambda: not _machines(fleet)[first].ready, timeout=WAIT)
        assert eventually(f"rack-sim to move to {other}", lambda: _holder(fleet) == other, timeout=WAIT)
        engine_pids += eventually(f"{other}'s agent to run the engine", lambda: _engines(agents[other]), timeout=WAIT)
        assert alive(stranded) == stranded, "the silent machine's engine still runs: nothing told it otherwise yet"
        assert eventually("an answer from the new machine", lambda: _answer(fleet), timeout=WAIT)

        # It comes back: told what it should still run (nothing), its agent stops the engine.
        os.kill(agents[first].process.pid, signal.SIGCONT)
        eventually(f"{first} to be Ready again", lambda: _machines(fleet)[first].ready, timeout=WAIT)
        eventually(f"{first}'s agent to stop the engine it no longer runs", lambda: alive(stranded) == [], timeout=WAIT)
        assert "no longer runs it" in agents[first].output
        assert _holder(fleet) == other, "the replica stayed where it moved"

        # The agent now holding it is killed outright (its engines die with it): back to the first.
        moved = _engines(agents[other])
        agents[other].process.kill()
        agents[other].process.wait(timeout=30)
        eventually(f"{other}'s engines to die with their agent", lambda: alive(moved) == [], timeout=WAIT)
        assert eventually(f"rack-sim to be re-placed on {first}", lambda: _holder(fleet) == first, timeout=WAIT)
        engine_pids += eventually(f"{first}'s agent to run the engine again", lambda: _engines(agents[first]), timeout=WAIT)
        assert eventually("an answer after the kill", lambda: _answer(fleet), timeout=WAIT)

        # The control plane goes away: the agent keeps its engine running; when laneway up is
        # back (same data directory and ports), the agent carries on with the same engine.
        serving = _engines(agents[first])
        assert fleet.up.stop(signal.SIGINT) == 0, fleet.up.output
        eventually("the agent to notice", lambda: "control plane unreachable" in agents[first].output, timeout=WAIT)
        assert alive(serving) == serving, "engines keep running while the control plane is away"
        fleet.up = Up.start(fleet.up.data_dir, port=fleet.up.port, gateway_port=fleet.up.gateway_port, local_cluster=False)
        fleet.up.wait_ready()
        assert eventually(f"rack-sim Ready on {first} again", lambda: _holder(fleet) == first, timeout=WAIT)
        assert eventually("an answer after the control plane's return", lambda: _answer(fleet), timeout=WAIT)
        assert _engines(agents[first]) == serving, "the same engine, never restarted"

        # The killed machine's agent starts again from its data directory (no join token), and a
        # gang (a Leader and a Worker) spreads over the two H200 machines: the Worker on the other
        # machine is given its leader's address and its rank.
        agents[other] = _start_agent(tmp_path, fleet.up, other, None, gpus=2 if other == "gpu-a" else 1)
        eventually(f"{other} to be Ready again", lambda: _machines(fleet)[other].ready, timeout=WAIT)
        deleted = cli("delete", "md", "rack-sim", "-n", "rack-demo")
        assert deleted.exit_code == 0, deleted.output
        eventually("rack-sim's engine to stop", lambda: not _engines(agents[first]), timeout=WAIT)
        fleet.apply(GANG)
        leader, worker = eventually("the gang's two pods on two machines", lambda: _gang(fleet, agents), timeout=WAIT)
        assert leader.machine != worker.machine
        door = next(a.url for m in _machines(fleet).values() for r in m.reports for a in r.addresses if r.name.startswith("rack-gang"))
        assert worker.env["LANEWAY_LEADER_ADDRESS"] == door.removeprefix("http://")
        assert (leader.env["LANEWAY_RANK"], worker.env["LANEWAY_RANK"]) == ("0", "1")
        assert eventually("an answer from the gang's leader", lambda: _answer(fleet, "rack-gang"), timeout=WAIT)
    finally:
        for agent in agents.values():
            engine_pids += _engines(agent)
            agent.stop()
    assert alive(engine_pids) == [], "every engine stopped with its agent"
