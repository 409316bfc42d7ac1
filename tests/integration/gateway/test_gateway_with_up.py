"""The gateway inside a real `laneway up`: the CLI's break-glass switch moves live traffic, and
`laneway get ig` shows the address the gateway serves. Ports are free ones, the data directory
is temporary, and the process is stopped with SIGINT and checked gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import LoopThread, Upstream

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env["LANEWAY_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "laneway.cli.main", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    data_dir, gw_port = tmp_path / "data", _free_port()
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(data_dir), "--port", str(_free_port()),
         "--gateway-port", str(gw_port), "--no-local-cluster", "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while "is up" not in (tmp_path / "up.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.1)
        yield data_dir, f"http://127.0.0.1:{gw_port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(30) == 0, (tmp_path / "up.log").read_text()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise


def _until(check, what: str, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_break_glass_command_and_gateway_status_under_laneway_up(up: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, gateway = up
    loop = LoopThread()
    primary, glass = Upstream("primary"), Upstream("glass")
    try:
        for u in (primary, glass):
            loop.call(u.start())
        manifest = tmp_path / "svc.yaml"
        manifest.write_text(f"""
apiVersion: laneway.dev/v1alpha1
kind: InferenceGateway
metadata: {{name: front-door}}
spec: {{egress: {{allow: [{{cidr: 127.0.0.1/32}}]}}}}   # the upstreams listen on loopback: the platform opens it
---
apiVersion: laneway.dev/v1alpha1
kind: ModelEndpoint
metadata: {{name: primary, namespace: ml, labels: {{role: primary}}}}
spec: {{url: "{primary.url}"}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelEndpoint
metadata: {{name: glass, namespace: ml, labels: {{role: glass}}}}
spec: {{url: "{glass.url}"}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: svc, namespace: ml}}
spec:
  endpoints:
  - {{name: main, selector: {{matchLabels: {{role: primary}}}}}}
  - {{name: glass, tier: BreakGlass, selector: {{matchLabels: {{role: glass}}}}}}
""")
        applied = _cli(data_dir, "apply", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr

        def tier() -> str | None:
            r = httpx.post(f"{gateway}/ml/svc/v1/chat/completions", json=BODY, timeout=5)
            return r.headers.get("x-laneway-tier") if r.status_code == 200 else None

        assert _until(tier, "the service to answer") == "Primary"
        on = _cli(data_dir, "service", "break-glass", "svc", "--on", "-n", "ml")
        assert on.returncode == 0 and "break-glass on" in on.stdout, on.stderr
        _until(lambda: tier() == "BreakGlass", "traffic to move to the BreakGlass tier")
        off = _cli(data_dir, "service", "break-glass", "svc", "--off", "-n", "ml")
        assert off.returncode == 0, off.stderr
        _until(lambda: tier() == "Primary", "traffic to return to Primary")

        missing = _cli(data_dir, "service", "break-glass", "nope", "--on", "-n", "ml")
        assert missing.returncode != 0 and "not found" in missing.stderr and "Traceback" not in missing.stderr

        # The gateway wrote its address and Ready on the InferenceGateway (status every 5 s).
        got = _until(lambda: (lambda out: out if gateway in out else None)(_cli(data_dir, "get", "ig").stdout),
                     "the InferenceGateway status", timeout=20)
        assert "front-door" in got and "True" in got
    finally:
        for u in (primary, glass):
            loop.call(u.stop())
        loop.close()
