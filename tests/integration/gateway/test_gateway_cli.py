"""`laneway gateway` as its own process against a SQLite store, stopped cleanly by SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
from gateway_harness import service

from laneway.store.sqlite import SqliteStore


def test_gateway_command_serves_a_sqlite_store(tmp_path: Path) -> None:
    db = tmp_path / "laneway.db"
    store = SqliteStore(db)
    store.create(service("chat", [{"selector": {"matchLabels": {"app": "m"}}}], modelNames=["llama"]))
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--store", f"sqlite:///{db}", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        models = httpx.get(f"{m.group(1)}/v1/models", timeout=5).json()
        assert {d["id"] for d in models["data"]} == {"chat", "llama"}
        r = httpx.post(f"{m.group(1)}/v1/chat/completions", json={"model": "llama"}, timeout=5)
        assert r.status_code == 503 and "no ready endpoint" in r.json()["error"]["message"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_gateway_command_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from laneway.cli.main import main; main()", "gateway", "--data-dir", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 2 and "laneway up --data-dir" in out.stderr
