"""The agents' TLS door (issue 17): `laneway up --agent-port` serves the API over TLS with
certificates laneway issues, a join token comes with the CA's fingerprint, and an agent trusts
the server only when the CA it is offered has that fingerprint. Both ends authenticate: the
server by its certificate, the agent by its credential. A wrong fingerprint joins nothing and
leaves the token unspent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_fleet import Cli, Fleet, eventually, free_port
from machines_harness import ROOT, running_fleet, start_agent

from laneway.api.kinds.platform import InferenceCluster


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from running_fleet(tmp_path_factory.mktemp("machines-tls") / "data", args=("--agent-port", str(free_port())))


def _joined(fleet: Fleet) -> list[str]:
    cluster = fleet.client.get("InferenceCluster", "rack")
    assert isinstance(cluster, InferenceCluster)
    return [m.name for m in cluster.status.machines if m.ready]


def test_an_agent_joins_over_tls_only_with_the_cas_fingerprint(fleet: Fleet, tmp_path: Path) -> None:
    info = json.loads((fleet.up.data_dir / "server.json").read_text())
    door, pin = info["agentServer"], info["agentCaCertHash"]
    assert door.startswith("https://127.0.0.1:") and pin.startswith("sha256:")
    cli = Cli(fleet.up.data_dir)
    assert cli("apply", "-f", str(ROOT / "examples" / "machines" / "rack.yaml")).exit_code == 0
    minted = cli("cluster", "join-token", "rack")
    assert minted.exit_code == 0 and f"--ca-cert-hash {pin}" in minted.stderr, minted.output
    token = minted.stdout.strip()

    impostor_pin = "sha256:" + "0" * 64
    refused = start_agent(tmp_path, door, "gpu-x", token=token, gpus=1, extra=("--ca-cert-hash", impostor_pin))
    refused.process.wait(timeout=60)
    assert refused.process.returncode == 1 and "not the control plane the join token came from" in refused.output, refused.output
    assert _joined(fleet) == [] and not (tmp_path / "gpu-x" / "agent.json").exists()

    agent = start_agent(tmp_path, door, "gpu-a", token=token, gpus=1, extra=("--ca-cert-hash", pin))
    try:
        eventually("gpu-a to join over TLS with the same token", lambda: _joined(fleet) == ["gpu-a"], timeout=60)
        assert (tmp_path / "gpu-a" / "ca.pem").read_text() == (fleet.up.data_dir / "tls" / "ca.pem").read_text()
    finally:
        code = agent.stop()
    assert code == 0, agent.output
