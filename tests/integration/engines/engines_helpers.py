"""Engines as real processes on 127.0.0.1, on ports chosen free at run time.

Helpers of the engines' integration tests (a uniquely named module, so that importing it
never collides with another folder's conftest). `engine_process` starts `laneway engine ...` in a subprocess, waits (bounded) until it answers
`/health` (or only until it listens), and always stops it: SIGTERM, then SIGKILL if it lingers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EngineProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (summed over other labels), 0 when absent."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total


def wait_until(predicate, *, timeout: float = START_TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _answers(url: str, path: str, *, ok_only: bool) -> bool:
    try:
        r = httpx.get(url + path, timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 if ok_only else True


@contextlib.contextmanager
def engine_process(args: Sequence[str], tmp_path: Path, *, wait_healthy: bool = True,
                   command: Sequence[str] | None = None,
                   start_timeout: float = START_TIMEOUT) -> Iterator[EngineProcess]:
    port = free_port()
    log = tmp_path / f"engine-{port}.log"
    cmd = [*(command or [sys.executable, "-m", "laneway.cli.engine"]), *args, "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    running = EngineProcess(url=f"http://127.0.0.1:{port}", process=proc, log=log)
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"engine exited with {proc.returncode}:\n{running.output()}")
            return _answers(running.url, "/health", ok_only=wait_healthy)

        wait_until(up, timeout=start_timeout, what=f"{' '.join(args[:1])} to answer on {running.url}")
        yield running
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
