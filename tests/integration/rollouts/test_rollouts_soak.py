"""The soak (bounded: about two minutes, 16 callers, simulator engines, no client retries)
against a real `laneway up`: a template edit, a manual scale-down, an autoscaler scale-down,
one engine killed and every primary engine killed with an Overflow tier present. No plain
request may fail; a stream cut by a killed engine ends with an error event and is the only
failure allowed. See `laneway.testing.soak`; `benchmarks/soak.py --minutes N` runs it longer.

Bounded for CI on a shared 2-core machine: each wait has a deadline, the test a timeout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_harness import Up

from laneway.client import Client
from laneway.testing import soak


@pytest.mark.timeout(600)
def test_soak_changes_without_failing_a_plain_request(tmp_path: Path) -> None:
    up = Up.start(tmp_path / "data")
    try:
        up.wait_ready()
        token = (up.data_dir / "admin.token").read_text().strip()
        with Client(f"http://127.0.0.1:{up.port}", token, timeout=30) as client:
            rows = soak.run(client, up_pid=up.process.pid, gateway=f"http://127.0.0.1:{up.gateway_port}", concurrency=16)
        print("\n" + soak.report(rows))
        by_phase = {r.phase: r for r in rows}
        assert {name for name, _ in soak.FAULTS} <= set(by_phase), f"every fault ran under load: {sorted(by_phase)}"
        assert all(by_phase[name].requests > 0 for name, _ in soak.FAULTS)
        failed_plain = {r.phase: r.errors for r in rows if r.failed_plain}
        assert not failed_plain, f"plain requests failed:\n{soak.report(rows)}"
        for r in rows:
            for error, _ in r.errors:
                assert error.endswith("(stream)"), f"{r.phase}: {error}"
    finally:
        up.stop()
    assert not up.leftovers(), "no engine outlives laneway up"
