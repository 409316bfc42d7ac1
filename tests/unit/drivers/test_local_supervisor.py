"""The supervisor's crash handling, with a command that cannot start (no process is spawned)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from laneway.drivers.local import supervisor as supervisor_module
from laneway.drivers.local.processes import ProcessSpec
from laneway.drivers.local.sandbox import EngineLaunch
from laneway.drivers.local.supervisor import Supervisor


def _spec(argv: tuple[str, ...]) -> ProcessSpec:
    return ProcessSpec(engine="main", copy=0, role="Standalone", rank=0, port=9, argv=argv, env=(), serving=True)


def test_a_command_that_is_not_installed_crashloops_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "BACKOFF_START", 0.01)

    async def run() -> str:
        spec = _spec(("/nonexistent/vllm", "serve"))
        sup = Supervisor(spec, launch=EngineLaunch(spec.argv, {}, tmp_path), log_path=tmp_path / "main.log")
        sup.start()
        try:
            for _ in range(500):
                if sup.observe().phase == "CrashLoopBackOff":
                    break
                await asyncio.sleep(0.01)
            seen = sup.observe()
            assert seen.phase == "CrashLoopBackOff" and not seen.ready and seen.restarts >= 3
            return seen.message
        finally:
            await sup.stop()

    message = asyncio.run(run())
    assert message.startswith("cannot start '/nonexistent/vllm': No such file or directory, restarting in")
    assert "--- laneway: cannot start '/nonexistent/vllm'" in message, "the log says it too"


def test_a_process_that_exits_unasked_is_reported_at_once_and_a_stop_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(supervisor_module, "BACKOFF_START", 5.0)  # no restart within the test
    exits: list[str] = []

    async def run() -> None:
        spec = _spec((sys.executable, "-c", "pass"))
        sup = Supervisor(spec, launch=EngineLaunch(spec.argv, {}, tmp_path), log_path=tmp_path / "main.log",
                         on_exit=lambda: exits.append("exited"))
        sup.start()
        try:
            for _ in range(1000):
                if exits:
                    break
                await asyncio.sleep(0.01)
            assert exits == ["exited"], "reported before the supervisor's backoff, not at a later look"
        finally:
            await sup.stop()
        long_running = _spec((sys.executable, "-c", "import time; time.sleep(30)"))
        quiet = Supervisor(long_running, launch=EngineLaunch(long_running.argv, {}, tmp_path), log_path=tmp_path / "q.log",
                           on_exit=lambda: exits.append("stopped"))
        quiet.start()
        for _ in range(500):
            if quiet.pid is not None:
                break
            await asyncio.sleep(0.01)
        await quiet.stop()

    asyncio.run(run())
    assert exits == ["exited"], "a stop laneway asked for is not an exit to report"
