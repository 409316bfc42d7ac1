"""One supervised engine process: start, probe, restart with backoff, stop.

A crash restarts the process after an exponential backoff (1 s doubling to 60 s); the
backoff resets once the process has stayed up for a while. After repeated crashes the phase
is `CrashLoopBackOff`, with the last lines of its log as the message. Readiness is probed
over HTTP: `/health`, then `/v1/models`, both must answer 2xx.

Children get PR_SET_PDEATHSIG on Linux, so the kernel stops them if laneway itself dies,
even by SIGKILL: no engine outlives the control plane that supervises it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

import aiohttp

from laneway.drivers.base import MemberObservation, MemberPhase
from laneway.drivers.local.processes import ProcessSpec

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
STABLE_AFTER = 30.0
CRASHLOOP_AFTER = 3
LOG_TAIL_LINES = 20


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)  # the libc this process already has mapped
    except OSError:
        return None


# Loaded here, in the parent, once: the child between fork and exec must not dlopen (another
# thread of laneway may hold the loader's lock at the fork, and the child would hang on it).
_LIBC = _load_libc()


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    if _LIBC is None:
        return
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect: nobody would signal us
        os._exit(1)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(deque(data.splitlines(), maxlen=lines))


class Supervisor:
    def __init__(self, spec: ProcessSpec, *, log_path: Path, probe_interval: float = 0.5) -> None:
        self.spec = spec
        self.log_path = log_path
        self.probe_interval = probe_interval
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = False
        self._phase: MemberPhase = "Pending"
        self._restarts = 0
        self._crashes_in_row = 0
        self._last_exit: int | None = None
        self._message = ""
        self._models: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        """Model ids the engine listed on /v1/models at its last successful probe."""
        return self._models

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"

    def observe(self) -> MemberObservation:
        return MemberObservation(
            id=self.spec.id,
            engine=self.spec.engine,
            phase=self._phase,
            ready=self._ready,
            restarts=self._restarts,
            message=self._message,
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"supervise {self.spec.id}")

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._terminate(timeout)
        self._phase = "Stopped"
        self._ready = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    async def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _run(self) -> None:
        backoff = BACKOFF_START
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        while not self._stopping:
            started = time.monotonic()
            self._phase = "Starting"
            self._ready = False
            try:
                with open(self.log_path, "ab") as log:
                    log.write(f"--- laneway: starting {' '.join(self.spec.argv)}\n".encode())
                    log.flush()
                    self._proc = await asyncio.create_subprocess_exec(
                        *self.spec.argv,
                        env={**os.environ, **dict(self.spec.env)},
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=log,
                        stderr=asyncio.subprocess.STDOUT,
                        preexec_fn=functools.partial(_die_with_parent, os.getpid()),
                    )
            except OSError as e:
                self._message = f"cannot start {self.spec.argv[0]!r}: {e.strerror or e}"
                code = 127
                with contextlib.suppress(OSError), open(self.log_path, "ab") as log:
                    log.write(f"--- laneway: {self._message}\n".encode())
            else:
                probe = asyncio.create_task(self._probe())
                try:
                    code = await self._proc.wait()
                finally:
                    probe.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await probe
                self._message = f"exited with code {code}"
            self._ready = False
            self._last_exit = code
            if self._stopping:
                return
            if time.monotonic() - started >= STABLE_AFTER:
                backoff, self._crashes_in_row = BACKOFF_START, 0
            self._crashes_in_row += 1
            self._restarts += 1
            if self._crashes_in_row >= CRASHLOOP_AFTER:
                self._phase = "CrashLoopBackOff"
                last = tail(self.log_path, 10)
                # "cannot start ..." (a command that is not installed) says more than its code 127.
                why = self._message if self._message.startswith("cannot start") else f"exited with code {code}"
                self._message = f"{why}, restarting in {backoff:.0f}s; last log lines:\n{last}"
            else:
                self._phase = "Pending"
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _probe(self) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                ready = await self._probe_once(session) if self.spec.serving else True
                if ready != self._ready:
                    self._ready = ready
                if self._proc is not None and self._proc.returncode is None:
                    self._phase = "Ready" if ready else "Running"
                    if ready:
                        self._message = ""
                await asyncio.sleep(self.probe_interval if not ready else self.probe_interval * 4)

    async def _probe_once(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(self.url + "/health") as resp:
                if resp.status >= 300:
                    return False
            async with session.get(self.url + "/v1/models") as resp:
                if resp.status >= 300:
                    return False
                self._models = served_models(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False
        return True


def served_models(body: bytes) -> tuple[str, ...]:
    """Model ids of an OpenAI `/v1/models` answer; empty when it is not one."""
    try:
        data = json.loads(body).get("data")
        return tuple(str(m["id"]) for m in data if isinstance(m, dict) and "id" in m)
    except (ValueError, AttributeError, TypeError):
        return ()
