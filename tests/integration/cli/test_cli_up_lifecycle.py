"""`laneway up` on its own: a taken port is a clear error; SIGTERM stops it cleanly, engine
processes it started included."""

from __future__ import annotations

import signal
from pathlib import Path

from cli_harness import Cli, Up

MANIFESTS = Path(__file__).parent / "manifests"


def test_port_in_use_names_the_flag_and_sigterm_stops_everything(tmp_path: Path) -> None:
    first = Up.start(tmp_path / "one")
    try:
        first.wait_ready()
        cli = Cli(first.data_dir)
        applied = cli("apply", "-f", str(MANIFESTS / "local-engine.yaml"))
        assert applied.exit_code == 0, applied.output
        ready = cli("wait", "md", "local-sim", "-n", "ml-team", "--for=condition=ReplicasReady", "--timeout", "90s")
        assert ready.exit_code == 0, ready.output + first.output
        first.remember_descendants()
        assert first.descendants, "the replica's engine should run as a child of laneway up"

        second = Up.start(tmp_path / "two", port=first.port)
        try:
            code = second.process.wait(timeout=60)
        finally:
            second.stop()
        assert code == 1
        assert "already in use" in second.output and "--port" in second.output
        assert "Traceback" not in second.output
        assert not (tmp_path / "two" / "server.json").exists()

        third = Up.start(tmp_path / "three", gateway_port=first.gateway_port)
        try:
            code = third.process.wait(timeout=60)
        finally:
            third.stop()
        assert code == 1 and "--gateway-port" in third.output
    finally:
        code = first.stop(signal.SIGTERM)
    assert code == 0, first.output
    assert "laneway stopped." in first.output
    assert not (tmp_path / "one" / "server.json").exists()
    assert first.leftovers() == [], "engine processes left running after laneway up stopped"
