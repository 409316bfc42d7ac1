"""One supervised engine process: start, probe, restart with backoff, stop.

A crash restarts the process after an exponential backoff (1 s doubling to 60 s); the
backoff resets once the process has stayed up for a while. After repeated crashes the phase
is `CrashLoopBackOff`, with the last lines of its log as the message. Readiness is probed
over HTTP: `/health`, then `/v1/models`, both must answer 2xx.

That message reaches the replica's status, which the team lane reads, so the log tail in it is
bounded (`STATUS_TAIL_LINES` lines of at most `STATUS_TAIL_LINE_CHARS` characters, printable
text only) and is only shown for a confined engine, one that cannot read laneway's data
directory (see `sandbox.py`); otherwise the message points at `laneway logs`.

The process is started as the driver's `EngineLaunch` says (the sandbox's argv, a scrubbed
environment, its working directory, an unprivileged user): nothing of laneway's environment
is inherited.

Children get PR_SET_PDEATHSIG on Linux, so the kernel stops them if laneway itself dies,
even by SIGKILL: no engine outlives the control plane that supervises it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import aiohttp
import psutil

from laneway.drivers.base import MemberObservation, MemberPhase
from laneway.drivers.local.processes import ProcessSpec
from laneway.drivers.local.sandbox import EngineLaunch

logger = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_MAX = 60.0
STABLE_AFTER = 30.0
CRASHLOOP_AFTER = 3
LOG_TAIL_LINES = 20
STATUS_TAIL_LINES = 10
SANDBOX_SETUP_WAIT = 2.0
STATUS_TAIL_LINE_CHARS = 200


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


def _descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of a process, deepest last (empty when it has none or is gone)."""
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


async def _sandbox_processes(proc: asyncio.subprocess.Process) -> list[psutil.Process]:
    """The processes a bwrap started (its pid namespace's init and the engine), waiting while it
    still sets the sandbox up; empty when it starts none in time or has exited."""
    deadline = time.monotonic() + SANDBOX_SETUP_WAIT
    while proc.returncode is None:
        found = _descendants(proc.pid)
        if len(found) >= 2 or (found and time.monotonic() > deadline):
            return found
        if time.monotonic() > deadline:
            return []
        await asyncio.sleep(0.02)
    return []


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


def bounded_tail(text: str, *, lines: int = STATUS_TAIL_LINES, width: int = STATUS_TAIL_LINE_CHARS) -> str:
    """The last `lines` lines of `text`, each cut to `width` characters, control characters
    (terminal escapes included) replaced: what a status message may carry of an engine's log."""
    out = []
    for line in deque(text.splitlines(), maxlen=lines):
        clean = "".join(ch if ch.isprintable() else "?" for ch in line)
        out.append(clean if len(clean) <= width else clean[: width - 3] + "...")
    return "\n".join(out)


class Supervisor:
    def __init__(
        self,
        spec: ProcessSpec,
        *,
        launch: EngineLaunch,
        log_path: Path,
        tail_in_status: bool = True,
        probe_interval: float = 0.5,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.on_exit = on_exit
        """Called when the process exits unasked (not on `stop`), before it is restarted."""
        self.spec = spec
        self.launch = launch
        self.tail_in_status = tail_in_status
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
        """Stop the engine: SIGTERM, then SIGKILL after `timeout`; return once it is gone.

        A sandboxed engine is signalled itself, not the bwrap that holds it: bwrap passes no
        signal on, and dying it would SIGKILL the engine without a chance to shut down. bwrap
        exits when its engine has, so waiting for bwrap waits for the engine too. A bwrap
        stopped while it still sets its sandbox up is waited for (up to `SANDBOX_SETUP_WAIT`)
        until its processes exist: one killed between creating its pid namespace and arming
        its own parent-death signal would leave that namespace running. And whatever it had
        started is killed by process (never by a reused pid) once bwrap is gone."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        inside = await _sandbox_processes(proc) if self.launch.sandboxed else []
        for pid in [p.pid for p in inside] or [proc.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            for pid in [*(p.pid for p in _descendants(proc.pid)), proc.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            await proc.wait()
        for leftover in inside:
            with contextlib.suppress(psutil.Error):
                leftover.kill()

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
                    self._proc = await self._spawn(log)
            except OSError as e:
                self._message = f"cannot start {self.launch.argv[0]!r}: {e.strerror or e}"
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
            if self.on_exit is not None:
                try:
                    self.on_exit()
                except Exception:  # a listener's failure must not stop the supervision
                    logger.exception("exit listener of %s failed", self.spec.id)
            if time.monotonic() - started >= STABLE_AFTER:
                backoff, self._crashes_in_row = BACKOFF_START, 0
            self._crashes_in_row += 1
            self._restarts += 1
            if self._crashes_in_row >= CRASHLOOP_AFTER:
                self._phase = "CrashLoopBackOff"
                # "cannot start ..." (a command that is not installed) says more than its code 127.
                why = self._message if self._message.startswith("cannot start") else f"exited with code {code}"
                if self.tail_in_status:
                    last = bounded_tail(tail(self.log_path, STATUS_TAIL_LINES))
                    self._message = f"{why}, restarting in {backoff:.0f}s; last log lines:\n{last}"
                else:
                    replica = dict(self.spec.env).get("LANEWAY_REPLICA", "NAME")
                    self._message = f"{why}, restarting in {backoff:.0f}s; its log: laneway logs mr/{replica} on the laneway host"
            else:
                self._phase = "Pending"
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _spawn(self, log: BinaryIO) -> asyncio.subprocess.Process:
        """Start the process; a stop that arrives meanwhile waits until it exists.

        Why: asyncio kills a process whose creation is cancelled, and a bwrap killed while it
        sets up its sandbox can leave the sandbox running. Finishing the start instead hands
        the process to `stop`, which ends it the orderly way."""
        uid = self.launch.uid
        spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
            *self.launch.argv,
            env=dict(self.launch.env),
            cwd=str(self.launch.cwd),
            user=uid,
            group=uid,
            extra_groups=[] if uid is not None else None,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        ))
        try:
            return await asyncio.shield(spawn)
        except asyncio.CancelledError:
            with contextlib.suppress(OSError):
                self._proc = await spawn
            raise

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
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
        return True


MAX_SERVED_MODELS = 64
MAX_MODEL_ID = 256


def served_models(body: bytes) -> tuple[str, ...]:
    """Model ids of an OpenAI `/v1/models` answer; empty when it is not one.

    The engine writes this answer and laneway stores what it says (an endpoint's `spec.model`),
    so only the first `MAX_SERVED_MODELS` printable ids of at most `MAX_MODEL_ID` characters
    are kept."""
    try:
        data = json.loads(body).get("data")
        ids = (str(m["id"]) for m in data if isinstance(m, dict) and "id" in m)
        return tuple(i for i in ids if 0 < len(i) <= MAX_MODEL_ID and i.isprintable())[:MAX_SERVED_MODELS]
    except (ValueError, AttributeError, TypeError):
        return ()
