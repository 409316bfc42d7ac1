"""Helpers of tests/integration/machines: a real `laneway up` with no local cluster, and
`laneway agent` processes, each with its own data directory and its own devices (a number of
H200s from the recorded NVML reading; none: a CPU-only machine).

(A uniquely named module, so that importing it never collides with another folder's helpers.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from local_fleet import Fleet, Up

from laneway.testing.nvml import with_devices

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "nvml-h200.json"


@dataclass
class AgentProcess:
    name: str
    data_dir: Path
    process: subprocess.Popen[str]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        """Stop it as systemd would (SIGTERM; resumed first if the test stopped it); its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def start_agent(tmp: Path, server: str, name: str, *, token: str | None, gpus: int, extra: tuple[str, ...] = ()) -> AgentProcess:
    """An agent process on `server`; without a token it starts from the credential its data
    directory kept."""
    reading = tmp / f"{name}-nvml.json"
    reading.write_text(json.dumps(with_devices(json.loads(FIXTURE.read_text()), gpus)))
    log = tmp / f"{name}.log"
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "laneway.cli.main", "agent", "--server", server, *(["--token", token] if token else []),
             "--name", name, "--data-dir", str(tmp / name), "--nvml-fixture", str(reading), "--log-level", "info", *extra],
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")},
        )
    return AgentProcess(name, tmp / name, process, log)


def running_fleet(data_dir: Path, *, args: tuple[str, ...] = ()) -> Iterator[Fleet]:
    """A `laneway up` with no local cluster, stopped with SIGINT after; a test may replace
    `fleet.up` (restart it), and whichever runs at the end is stopped."""
    up = Up.start(data_dir, local_cluster=False, args=args)
    fleet: Fleet | None = None
    try:
        fleet = Fleet.connect(up)
        yield fleet
    finally:
        running = fleet.up if fleet else up
        if fleet:
            fleet.close()
        assert running.stop(signal.SIGINT) == 0, running.output
        assert up.leftovers() == [] and running.leftovers() == []
