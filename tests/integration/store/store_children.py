"""Writer child processes for the store's multi-process tests (store_child.py), shared by the
SQLite and PostgreSQL tests; the `children` fixture (conftest.py) kills them after each test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from laneway.api.kinds import ModelEndpoint

CHILD = Path(__file__).with_name("store_child.py")


def endpoint(name: str) -> ModelEndpoint:
    return ModelEndpoint.model_validate(
        {"metadata": {"name": name, "namespace": "procs"}, "spec": {"url": "http://127.0.0.1:1"}}
    )


def spawn(children: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    """A store_child.py process (`write`, `forever` or `bump`) with its output piped."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    children.append(proc)
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out
