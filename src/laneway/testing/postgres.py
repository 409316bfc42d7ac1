"""A throwaway PostgreSQL server for tests and benchmarks: initdb in a temp dir, one loopback port.

`postgres_server()` is a context manager that finds the server binaries (Debian's
`postgresql` package puts them in /usr/lib/postgresql/<major>/bin), runs `initdb` in a fresh
temporary directory, starts `postgres` on a free 127.0.0.1 port with its socket in that
directory, waits until it accepts connections, and yields a `PostgresServer` with the DSN.
On exit, whatever happened inside, it stops the server (fast shutdown, then SIGKILL if it
will not go) and removes the directory.

The server refuses to run as root, so when this process is root the data directory is handed
to the `postgres` system user and the binaries run through `runuser -u postgres --`.

`PostgresServer.stop()` / `start()` stop and restart the same data directory on the same port,
for tests of what laneway does while the database is away.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed on this machine."""


def postgres_bin_dir() -> Path | None:
    """Where `initdb` and `postgres` are, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob(_BIN_GLOB), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> list[str]:
    """The prefix that runs a server binary as a user it accepts (not root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """One running test server: `dsn` connects as the superuser `laneway` to database `laneway`."""

    bin_dir: Path
    root: Path
    port: int
    user: str = "laneway"
    database: str = "laneway"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process (its backends are its children), while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        if self.running:
            return
        with open(self.root / "postgres.log", "ab") as log:
            self._process = subprocess.Popen(
                [
                    *_as_server_user(),
                    str(self.bin_dir / "postgres"),
                    "-D", str(self.data_dir),
                    "-h", "127.0.0.1",
                    "-p", str(self.port),
                    "-k", str(self.root),
                    "-c", "fsync=on",
                    "-c", "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self._process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
                ready = subprocess.run(
                    [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-d", "postgres"],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                if ready.returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections within {_START_TIMEOUT:.0f} s: {self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: fast shutdown (SIGINT), or SIGKILL at once with `kill=True`."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=_STOP_TIMEOUT)
        if kill:
            # The postmaster's children hold the shared memory until they go.
            self._reap_children()
        self._process = None

    def _reap_children(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + _STOP_TIMEOUT
        while pid_file.exists() and time.monotonic() < deadline:
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, 0)
            except (OSError, ValueError, IndexError):
                return
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.root / "postgres.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its DSN."""
        import psycopg

        with psycopg.connect(self.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a fresh server in a temp dir; stop it and remove the dir on exit (see module doc)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "PostgreSQL is not installed: `apt-get install -y postgresql` (Debian) puts initdb and postgres "
            "in /usr/lib/postgresql/<major>/bin"
        )
    root = Path(tempfile.mkdtemp(prefix="laneway-pg-"))
    server = PostgresServer(bin_dir=bin_dir, root=root, port=free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user="postgres", group="postgres")
        os.chmod(root, 0o700)
        init = subprocess.run(
            [
                *_as_server_user(),
                str(bin_dir / "initdb"),
                "-D", str(server.data_dir),
                "-U", server.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        server.start()
        server.create_database(server.database)
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
