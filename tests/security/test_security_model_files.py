"""Hostile GGUF headers for `laneway ticket check` (issue 20): the check reads the model file
the ticket's cache row names when it is on this machine, so a ticket someone else wrote (a pull
request's, checked in CI) chooses the file. The `gguf` reader trusts the header's counts (an
array of 2^40 numbers in a file of a few bytes looped for hours) and recurses once per nested
array (thousands of levels ended in a RecursionError traceback). Each must end promptly as a
usage error naming the file, with no traceback.

Run as the real command in a child process, so a hang is seen as one (and ended) instead of
stopping the test run."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from laneway.engines.tiny_gguf import write_tiny_llama_gguf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tickets"


def _header(tensors: int, keys: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensors, keys)


def _key(name: str) -> bytes:
    return struct.pack("<Q", len(name)) + name.encode()


ARRAY, UINT8, UINT32 = 9, 0, 4
HOSTILE = {
    "counts-past-the-file": (_header(2**62, 2**62), "more than its"),
    "array-of-2^40-numbers": (_header(0, 1) + _key("k") + struct.pack("<IIQ", ARRAY, UINT8, 2**40), "runs past its end"),
    "arrays-nested-5000-deep": (
        _header(0, 1) + _key("k") + struct.pack("<I", ARRAY) + struct.pack("<IQ", ARRAY, 1) * 5000
        + struct.pack("<IQI", UINT32, 1, 7),
        "nested more than",
    ),
    "string-longer-than-the-file": (_header(0, 1) + struct.pack("<Q", 2**63) + b"x", "more than its"),
    "unknown-type": (_header(0, 1) + _key("k") + struct.pack("<I", 99) + b"\0" * 16, "unknown value type 99"),
}


def _check(tmp_path: Path, weights: Path) -> subprocess.CompletedProcess[str]:
    doc = yaml.safe_load((EXAMPLES / "pr-review.yaml").read_text())
    doc["spec"]["hardware"]["memory"] = {"contextLength": 1024}
    doc["spec"]["cache"] = {"source": "Local", "local": {"path": str(weights)}}
    doc["spec"]["sovereignty"] = {"none": "public weights"}
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if k not in ("LANEWAY_SERVER", "LANEWAY_TOKEN")}
    env["LANEWAY_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "laneway.cli.main", "ticket", "check", str(ticket), "-f", str(EXAMPLES / "fleet.yaml")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_gguf_named_by_a_tickets_cache_row_is_a_usage_error(tmp_path: Path, name: str) -> None:
    data, said = HOSTILE[name]
    weights = tmp_path / f"{name}.gguf"
    weights.write_bytes(data)
    try:
        done = _check(tmp_path, weights)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ticket check was still reading {name} after 120 s")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and str(weights) in done.stderr and said in done.stderr, done.stderr


def test_a_real_gguf_still_reads(tmp_path: Path) -> None:
    write_tiny_llama_gguf(tmp_path / "tiny.gguf", block_count=2, head_count=4, context_length=2048)
    done = _check(tmp_path, tmp_path / "tiny.gguf")
    assert "1 sequence(s) x 1024 tokens" in done.stdout, done.stdout + done.stderr
