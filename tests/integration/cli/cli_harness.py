"""A real `laneway up` in a subprocess, and ways to drive the real CLI against it.

Each instance gets a temporary data directory and ports chosen free at run time, and is
stopped with SIGINT (as Ctrl-C would) by whoever started it; `stop()` returns what the
process printed and the ids of every process it had started, so tests can prove none is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from click.testing import CliRunner, Result

from laneway.cli.main import main

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env["LANEWAY_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@dataclass
class Up:
    data_dir: Path
    port: int
    gateway_port: int
    process: subprocess.Popen[str]
    log_path: Path
    descendants: set[int] = field(default_factory=set)

    @classmethod
    def start(
        cls, data_dir: Path, *, port: int | None = None, gateway_port: int | None = None, local_cluster: bool = True,
        env: dict[str, str] | None = None, args: tuple[str, ...] = (),
    ) -> Up:
        """Start it; `env` adds variables to its environment (the security tests plant canaries),
        `args` flags to `laneway up` (`--store postgresql://...`, `--lease-ttl 3`)."""
        port = port or free_port()
        gateway_port = gateway_port or free_port()
        log_path = data_dir.parent / f"{data_dir.name}-up.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(data_dir),
             "--port", str(port), "--gateway-port", str(gateway_port), "--log-level", "warning",
             *([] if local_cluster else ["--no-local-cluster"]), *args],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=cli_env(data_dir, **(env or {})), start_new_session=True,
        )
        log.close()
        return cls(data_dir=data_dir, port=port, gateway_port=gateway_port, process=process, log_path=log_path)

    @classmethod
    @contextmanager
    def running(
        cls, data_dir: Path, *, local_cluster: bool = True, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> Iterator[Up]:
        """A started and ready instance for the `with` block; leaving it stops the instance as
        Ctrl-C does, which must exit 0 and leave none of its processes running."""
        instance = cls.start(data_dir, local_cluster=local_cluster, env=env, args=args)
        try:
            instance.wait_ready()
            yield instance
        finally:
            code = instance.stop()
            assert code == 0, instance.output
            assert instance.leftovers() == [], "processes left running after laneway up stopped"

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> dict[str, str]:
        """server.json, once the instance wrote it; fails with the log if the process died."""
        deadline = time.monotonic() + START_TIMEOUT
        info_path = self.data_dir / "server.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"laneway up exited with {self.process.returncode}:\n{self.output}")
            if info_path.exists() and "is up" in self.output:
                return json.loads(info_path.read_text())
            time.sleep(0.1)
        raise AssertionError(f"laneway up did not become ready in {START_TIMEOUT}s:\n{self.output}")

    def remember_descendants(self) -> None:
        try:
            self.descendants |= {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Stop as Ctrl-C does; kill the whole session only if it does not stop in time."""
        self.remember_descendants()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                raise AssertionError(f"laneway up did not stop within {STOP_TIMEOUT}s:\n{self.output}") from None
        return self.process.returncode

    def leftovers(self) -> list[int]:
        return [pid for pid in self.descendants if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


class Cli:
    """The real `laneway` command, in-process through click's runner (fast) or as a subprocess."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._runner = CliRunner()

    def __call__(self, *args: str, token: str | None = None, input: str | None = None) -> Result:
        env: dict[str, str | None] = {"LANEWAY_DATA_DIR": str(self.data_dir), "LANEWAY_SERVER": None, "LANEWAY_DEBUG": None}
        env["LANEWAY_TOKEN"] = token
        return self._runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    def subprocess(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"LANEWAY_TOKEN": token} if token else {}
        return subprocess.run(
            [sys.executable, "-m", "laneway.cli.main", *args],
            env=cli_env(self.data_dir, **extra), capture_output=True, text=True, timeout=CLI_TIMEOUT,
        )


def apply_ready(cli: Cli, up: Up, manifest: str, namespace: str, *deployments: str, timeout: str = "150s") -> None:
    """Apply `manifest` from a file (as a user would) and wait until each named deployment's
    replicas are Ready; a failure carries laneway up's log, where the reason is."""
    path = up.data_dir.parent / f"{up.data_dir.name}-applied.yaml"
    path.write_text(manifest)
    applied = cli("apply", "-f", str(path))
    assert applied.exit_code == 0, applied.output
    for name in deployments:
        ready = cli("wait", "md", name, "-n", namespace, "--for=condition=ReplicasReady", "--timeout", timeout)
        assert ready.exit_code == 0, ready.output + up.output
