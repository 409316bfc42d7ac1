"""A newcomer's `laneway demo` and `laneway up` keep apart, and `--fresh` starts from nothing.

Why: they once shared ~/.laneway, so `up` restarted the demo's engine and the demo restarted
everything applied under `up`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from laneway.paths import (
    DEFAULT_DATA_DIR,
    DEFAULT_DEMO_DATA_DIR,
    DataDir,
    demo_data_dir,
)
from laneway.up import UpError, UpOptions, start_fresh


def test_demo_has_its_own_default_directory_whatever_laneway_data_dir_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANEWAY_DATA_DIR", str(tmp_path / "up"))
    assert demo_data_dir() == DEFAULT_DEMO_DATA_DIR != DEFAULT_DATA_DIR
    assert demo_data_dir(str(tmp_path / "mine")) == tmp_path / "mine"


def _populated(root: Path) -> DataDir:
    data = DataDir(root).ensure()
    for name in ("laneway.db", "laneway.db-wal", "laneway.db-shm"):
        (root / name).write_text("x")
    data.write_server_info({"server": "http://127.0.0.1:1", "pid": "999999999"})
    (data.logs_dir / "mr").mkdir(parents=True)
    (data.logs_dir / "mr" / "engine.log").write_text("x")
    (data.cache_dir / "weights").mkdir(parents=True)
    data.admin_token_path.write_text("t")
    return data


def test_fresh_removes_store_server_info_and_logs_but_keeps_caches(tmp_path: Path) -> None:
    data = _populated(tmp_path / "d")
    removed = start_fresh(UpOptions(data_dir=data.root, fresh=True), data)
    assert data.store_path in removed
    assert not data.store_path.exists() and not (data.root / "laneway.db-wal").exists()
    assert not data.server_info_path.exists() and not data.logs_dir.exists()
    assert (data.cache_dir / "weights").is_dir(), "downloaded weights must survive a fresh start"


def test_fresh_refuses_while_a_laneway_runs_on_the_directory(tmp_path: Path) -> None:
    data = _populated(tmp_path / "d")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        data.write_server_info({"server": "http://127.0.0.1:1", "pid": str(alive.pid)})
        with pytest.raises(UpError, match=f"pid {alive.pid}"):
            start_fresh(UpOptions(data_dir=data.root, fresh=True), data)
    finally:
        alive.kill()
        alive.wait(timeout=10)
    assert data.store_path.exists(), "nothing may be removed under a running laneway"


def test_fresh_refuses_an_external_store(tmp_path: Path) -> None:
    data = _populated(tmp_path / "d")
    with pytest.raises(UpError, match="--store"):
        start_fresh(UpOptions(data_dir=data.root, fresh=True, store="postgresql://u:p@127.0.0.1:1/db"), data)
    assert data.store_path.exists()


def test_up_and_demo_document_fresh() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    for command in ("up", "demo"):
        out = subprocess.run([sys.executable, "-m", "laneway.cli.main", command, "--help"], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert "--fresh" in out.stdout, out.stdout + out.stderr
    demo = subprocess.run([sys.executable, "-m", "laneway.cli.main", "demo", "--help"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert ".laneway-demo" in demo.stdout
