"""Where a local laneway keeps its state, and how a CLI finds a running `laneway up`.

The data directory holds the SQLite store, the admin token, `server.json` (the addresses a
running `laneway up` listens on) and per-replica engine logs. It is `--data-dir`, else
`LANEWAY_DATA_DIR`, else `~/.laneway`. `laneway demo` keeps its own (`--data-dir`, else
`~/.laneway-demo`) so the two never restart each other's objects.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".laneway"
# `laneway demo`'s own: what the demo applies never comes back under a later `laneway up`, and
# what `up` applied never restarts under the demo.
DEFAULT_DEMO_DATA_DIR = Path.home() / ".laneway-demo"
# The files a fresh start removes: the store (with SQLite's side files), the running instance's
# addresses, and the engines' logs. Downloaded caches stay: they are weights, not state.
STATE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("LANEWAY_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


def demo_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`laneway demo`'s directory: the one named, else its own default (never LANEWAY_DATA_DIR,
    which names where `laneway up` keeps the fleet a user built)."""
    return Path(explicit).expanduser() if explicit else DEFAULT_DEMO_DATA_DIR


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def store_path(self) -> Path:
        return self.root / "laneway.db"

    @property
    def admin_token_path(self) -> Path:
        return self.root / "admin.token"

    @property
    def server_info_path(self) -> Path:
        return self.root / "server.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def ensure(self) -> DataDir:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        return self

    def write_server_info(self, info: dict[str, str]) -> None:
        tmp = self.server_info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, self.server_info_path)

    def read_server_info(self) -> dict[str, str] | None:
        try:
            info: object = json.loads(self.server_info_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict):
            return None
        return {str(k): str(v) for k, v in info.items()}

    def clear_state(self) -> list[Path]:
        """Remove the store, `server.json` and the engine logs (never the caches); the paths removed.

        Why: `laneway up --fresh` starts from an empty fleet without deleting weights that took
        minutes to download. The caller makes sure no `laneway up` runs on this directory.
        """
        removed: list[Path] = []
        for suffix in STATE_FILE_SUFFIXES:
            path = self.store_path.with_name(self.store_path.name + suffix)
            if path.exists():
                path.unlink()
                removed.append(path)
        if self.server_info_path.exists():
            self.server_info_path.unlink()
            removed.append(self.server_info_path)
        if self.logs_dir.exists():
            shutil.rmtree(self.logs_dir)
            removed.append(self.logs_dir)
        return removed

    def running_pid(self) -> int | None:
        """The pid `server.json` names when that process is alive, else None."""
        info = self.read_server_info()
        try:
            pid = int((info or {}).get("pid", ""))
        except ValueError:
            return None
        if pid <= 0 or pid == os.getpid():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def read_admin_token(self) -> str | None:
        try:
            return self.admin_token_path.read_text().strip() or None
        except OSError:
            return None
