"""Where a local laneway keeps its state, and how a CLI finds a running `laneway up`.

The data directory holds the SQLite store, the admin token, `server.json` (the addresses a
running `laneway up` listens on) and per-replica engine logs. It is `--data-dir`, else
`LANEWAY_DATA_DIR`, else `~/.laneway`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".laneway"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("LANEWAY_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


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

    def ensure(self) -> "DataDir":
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        return self

    def write_server_info(self, info: dict[str, str]) -> None:
        tmp = self.server_info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, self.server_info_path)

    def read_server_info(self) -> dict[str, str] | None:
        try:
            return json.loads(self.server_info_path.read_text())
        except (OSError, ValueError):
            return None

    def read_admin_token(self) -> str | None:
        try:
            return self.admin_token_path.read_text().strip() or None
        except OSError:
            return None
