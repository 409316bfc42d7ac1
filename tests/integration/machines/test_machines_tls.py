"""The agents' TLS door (issue 17): `laneway up --agent-port` serves the API over TLS with
certificates laneway issues, a join token comes with the CA's fingerprint, and an agent trusts
the server only when the CA it is offered has that fingerprint. Both ends authenticate: the
server by its certificate, the agent by its credential. A wrong fingerprint joins nothing and
leaves the token unspent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_fleet import Cli, Fleet, Up, eventually, free_port

from laneway.api.kinds.platform import InferenceCluster
from laneway.testing.nvml import with_devices

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "nvml-h200.json"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    up = Up.start(tmp_path_factory.mktemp("machines-tls") / "data", local_cluster=False, args=("--agent-port", str(free_port())))
    fleet: Fleet | None = None
    try:
        fleet = Fleet.connect(up)
        yield fleet
    finally:
        if fleet:
            fleet.close()
        assert up.stop(signal.SIGINT) == 0, up.output


def _agent(tmp: Path, server: str, token: str, pin: str, name: str) -> subprocess.Popen[str]:
    reading = tmp / f"{name}-nvml.json"
    reading.write_text(json.dumps(with_devices(json.loads(FIXTURE.read_text()), 1)))
    return subprocess.Popen(
        [sys.executable, "-m", "laneway.cli.main", "agent", "--server", server, "--token", token, "--ca-cert-hash", pin,
         "--name", name, "--data-dir", str(tmp / name), "--nvml-fixture", str(reading)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")},
    )


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
    refused = _agent(tmp_path, door, token, impostor_pin, "gpu-x")
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 1 and "not the control plane the join token came from" in out, out
    assert _joined(fleet) == [] and not (tmp_path / "gpu-x" / "agent.json").exists()

    agent = _agent(tmp_path, door, token, pin, "gpu-a")
    try:
        eventually("gpu-a to join over TLS with the same token", lambda: _joined(fleet) == ["gpu-a"], timeout=60)
        assert (tmp_path / "gpu-a" / "ca.pem").read_text() == (fleet.up.data_dir / "tls" / "ca.pem").read_text()
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)
    assert agent.returncode == 0
