"""What confinement costs an engine's start: `laneway engine sim` from exec to answering
`/v1/models`, confined as the local driver confines it (bubblewrap, and `setpriv` to uid 65534
when run as root) against the baseline run alongside: the same engine, same scrubbed
environment and working directory, started directly (as the local driver started engines
before issue 11). Runs alternate between the two, so machine load hits both alike. Prints
every run, the medians and the ratio confined/baseline.

    python benchmarks/engine_sandbox.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from laneway.drivers.local.processes import resolve_command
from laneway.drivers.local.sandbox import (
    Confinement,
    EngineLaunch,
    detect_confinement,
    engine_launch,
    laneway_root,
    prepare_workdir,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def time_to_ready(launch: EngineLaunch, url: str, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(launch.argv, env=dict(launch.env), cwd=launch.cwd, user=launch.uid, group=launch.uid,
                            extra_groups=[] if launch.uid is not None else None,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not answers(url):
            if proc.poll() is not None:
                raise SystemExit(f"the engine exited with {proc.returncode}: {' '.join(launch.argv)}")
            if time.perf_counter() - start > timeout:
                raise SystemExit(f"the engine did not answer in {timeout:.0f}s")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        for child in _children(proc.pid):
            subprocess.run(["kill", "-TERM", str(child)], check=False)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="laneway-bench-"))
    try:
        data.chmod(0o700)
        confined = detect_confinement(data_dir=data, work_root=data / "engines")
        if confined.bwrap is None:
            print(f"no sandbox here: {confined.weaker}")
        baseline = Confinement(bwrap=None, setpriv=None, uid=None, hidden=(), needed=())
        workdir = data / "engines" / "bench" / "sim-0-standalone-0"
        prepare_workdir(workdir, confined)
        times: dict[str, list[float]] = {"baseline": [], "confined": []}
        for i in range(args.runs):
            for name, confinement in (("baseline", baseline), ("confined", confined)):
                port = free_port()
                argv = resolve_command(["laneway", "engine", "sim", "--port", str(port)])
                launch = engine_launch(confinement, argv=argv, spec_env={"LANEWAY_PORT": str(port), "LANEWAY_REPLICA": "bench-0"},
                                       workdir=workdir, python_path=str(laneway_root()))
                seconds = time_to_ready(launch, f"http://127.0.0.1:{port}/v1/models")
                times[name].append(seconds)
                print(f"run {i + 1} {name:8s} {seconds * 1000:7.0f} ms")
        base, conf = statistics.median(times["baseline"]), statistics.median(times["confined"])
        print(f"median to ready: baseline {base * 1000:.0f} ms, confined {conf * 1000:.0f} ms "
              f"({'bubblewrap' if confined.bwrap else 'no sandbox'}{', uid ' + str(confined.uid) if confined.uid is not None else ''})")
        print(f"ratio confined/baseline: {conf / base:.2f}")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
