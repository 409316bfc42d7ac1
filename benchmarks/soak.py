"""The soak, longer: steady load through the gateway of a real `laneway up` (OpenAI clients,
no client retries, 70% plain and 30% streamed, simulator engines) while laneway changes things
round after round: a template edit (rolling update), a manual scale-down, an autoscaler
scale-down, one engine killed, every primary engine killed with an Overflow tier present (see
`laneway.testing.soak`). Prints the success rate per fault, and each fault's rate as a ratio
of the steady phases' in the same run (the baseline: the same load with nothing changing).

    python benchmarks/soak.py [--minutes 10] [--concurrency 16]

The integration test `tests/integration/rollouts/test_rollouts_soak.py` runs one round.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from laneway.client import Client
from laneway.testing import soak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to go on with rounds of faults (at least one round)")
    parser.add_argument("--concurrency", type=int, default=16, help="callers at once")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="laneway-soak-") as tmp:
        data = Path(tmp) / "data"
        port, gateway_port = free_port(), free_port()
        log = (Path(tmp) / "up.log").open("w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")} | {"LANEWAY_DATA_DIR": str(data)}
        up = subprocess.Popen(
            [sys.executable, "-m", "laneway.cli.main", "up", "--data-dir", str(data), "--port", str(port),
             "--gateway-port", str(gateway_port), "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not (data / "server.json").exists():
                if up.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"laneway up did not start:\n{(Path(tmp) / 'up.log').read_text()}")
                time.sleep(0.2)
            json.loads((data / "server.json").read_text())
            token = (data / "admin.token").read_text().strip()
            began = time.monotonic()
            with Client(f"http://127.0.0.1:{port}", token, timeout=30) as client:
                rows = soak.run(client, up_pid=up.pid, gateway=f"http://127.0.0.1:{gateway_port}",
                                concurrency=args.concurrency, minutes=args.minutes, log=lambda line: print(line, flush=True))
            took = time.monotonic() - began
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
    print(f"\nsoak: {took / 60:.1f} minutes, {args.concurrency} callers\n")
    print(soak.report(rows))
    steady = next((r for r in rows if r.phase == "steady"), None)
    if steady is not None and steady.success_rate > 0:
        print("\nsuccess rate per fault / steady (baseline, same run):")
        for r in rows:
            if r.phase != "steady":
                print(f"  {r.phase:24} {r.success_rate / steady.success_rate:.4f}")


if __name__ == "__main__":
    main()
