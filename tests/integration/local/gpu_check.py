"""The one prepared check for a session lent a GPU machine (issue 4): run it there as it is.

    python tests/integration/local/gpu_check.py            # on the GPU machine
    python tests/integration/local/gpu_check.py --driver cpu.laneway.dev   # a dry run anywhere

It prints what NVML reports through `read_gpus`, the InferenceClass `laneway up` publishes
for this machine (the NVIDIA DRA driver's keys), then starts a real `laneway up` on free
loopback ports and a temporary data directory, applies a simulator replica whose device
selector asks for one device of `--driver` (`gpu.nvidia.com`: a GPU), waits until it is Ready,
sends one chat completion through the service URL, prints `laneway get icl,ic,mr,me`, and
stops laneway, checking that no engine process is left. Exit status 0 only when all of that
held. Needs laneway installed (with nvidia-ml-py, a dependency) and nothing from the network.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_harness import Up

DEADLINE = 120.0


def deployment(driver: str) -> str:
    return yaml.safe_dump_all([
        {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelDeployment",
         "metadata": {"name": "gpu-sim", "namespace": "gpu-check", "annotations": {"laneway.dev/job": "issue 4 GPU check"}},
         "spec": {"replicas": 1, "template": {"spec": {
             "clusterSelector": {"matchLabels": {"laneway.dev/source": "local"}},
             "engines": [{"name": "main", "members": [{
                 "nodeSelector": {"devices": [{"name": "gpu", "count": 1, "selectors": [{"cel": f'device.driver == "{driver}"'}]}]},
                 "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/engine-sim",
                                                       "command": ["laneway", "engine", "sim"],
                                                       "args": ["--port", "$(LANEWAY_PORT)", "--served-model-name", "gpu-sim"]}]}},
             }]}],
         }}}},
        {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelService",
         "metadata": {"name": "gpu-sim", "namespace": "gpu-check"},
         "spec": {"modelNames": ["gpu-sim"], "owner": {"team": "check", "contact": "check@example.com"},
                  "endpoints": [{"selector": {"matchLabels": {"laneway.dev/deployment": "gpu-sim"}}}]}},
    ], sort_keys=False)


def cli(data: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "laneway.cli.main", "--data-dir", str(data), *args],
                          capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", default="gpu.nvidia.com", help="device driver the replica asks for")
    args = parser.parse_args()

    from laneway.drivers.local.discovery import discover_local_class, read_gpus

    print("NVML:", read_gpus())
    print(yaml.safe_dump(json.loads(discover_local_class().model_dump_json(by_alias=True, exclude_none=True)), sort_keys=False))

    with tempfile.TemporaryDirectory(prefix="laneway-gpu-check-") as tmp:
        data = Path(tmp) / "data"
        up = Up.start(data)
        engines: list[int] = []
        ok = False
        try:
            up.wait_ready()
            manifest = Path(tmp) / "gpu-sim.yaml"
            manifest.write_text(deployment(args.driver))
            print(cli(data, "apply", "-f", str(manifest)))
            print(cli(data, "wait", "md", "gpu-sim", "-n", "gpu-check", "--for=condition=ReplicasReady", f"--timeout={DEADLINE:.0f}s"))
            url = f"http://127.0.0.1:{up.gateway_port}/gpu-check/gpu-sim/v1/chat/completions"
            body = json.dumps({"model": "gpu-sim", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}).encode()
            deadline = time.monotonic() + DEADLINE
            while True:
                try:
                    request = urllib.request.Request(url, body, {"content-type": "application/json"})
                    with urllib.request.urlopen(request, timeout=10) as resp:
                        print("answer:", json.loads(resp.read())["choices"][0]["message"]["content"])
                        ok = True
                        break
                except OSError as error:
                    if time.monotonic() > deadline:
                        print("no answer through the service:", error)
                        break
                    time.sleep(0.5)
            print(cli(data, "get", "icl,ic"))
            print(cli(data, "get", "mr,me", "-n", "gpu-check", "-o", "wide"))
            engines = [p.pid for p in psutil.Process(up.process.pid).children(recursive=True)]
        finally:
            code = up.stop(signal.SIGINT)
        left = [pid for pid in engines if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        print(f"laneway up exited {code}; engine processes left: {left}")
        if not ok or code != 0 or left:
            print(up.output[-4000:])
            return 1
    print("GPU CHECK OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
