"""Full re-plan of a synthetic fleet: 1,000 clusters x 8 pools, 2,000 deployments, mixed selectors.

Prints the time of a full re-plan with the compile-once / evaluate-once caches (cold: fresh
caches, as after a restart; warm: the steady state of the controller), wall and CPU seconds
(the CPU time is what to compare on a shared machine), and the ratio against a
baseline that compiles every selector on every evaluation and memoizes nothing, run in the
same process on the same fleet. The baseline is slow by design, so by default it plans a
deterministic sample of the deployments and scales the time up; `--full-baseline` plans all.

    python benchmarks/placement.py [--clusters 1000] [--deployments 2000] [--baseline-sample 200]

It then runs the whole `laneway plan -f FLEET -o json` command as a process on the same fleet
written out as YAML (what a platform team runs; target: under 2 s for this fleet), and splits
its time into start-up and imports (a `laneway plan --help` process), loading and validating
the manifests, planning them and writing the JSON, the last three measured in this process as
the command runs them (cyclic collection paused). `--no-process` skips it.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment
from laneway.api.manifest import load_paths
from laneway.placement import DeviceMatcher, plan_fleet
from laneway.placement.fleet import Fleet

GPU = "gpu.nvidia.com"
PRODUCTS = [("A100", "40Gi"), ("A100", "80Gi"), ("H100", "80Gi"), ("H200", "141Gi"), ("L4", "24Gi"), ("B200", "192Gi")]
DRIVERS = ["535.104.5", "550.54.15", "560.28.3"]
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-east", "sa-east", "ca-central"]
TIERS = ["gold", "silver", "bronze"]
SELECTORS = [
    'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("{mem}")) >= 0',
    'device.attributes["gpu.nvidia.com"].productName in ["{p1}", "{p2}"]',
    'device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("{drv}"))',
    'device.driver == "gpu.nvidia.com" && device.capacity["gpu.nvidia.com"].memory.isGreaterThan(quantity("{mem}"))',
    'has(device.attributes["gpu.nvidia.com"].productName) && device.attributes["gpu.nvidia.com"].productName.startsWith("{p1prefix}")',
]


def classes() -> list[InferenceClass]:
    out = []
    for product, memory in PRODUCTS:
        for driver in DRIVERS:
            name = f"{product.lower()}-{memory.lower()}-{driver.split('.')[0]}"
            out.append(
                InferenceClass.model_validate(
                    {
                        "metadata": {"name": name},
                        "spec": {
                            "devices": [
                                {
                                    "name": "gpu",
                                    "driver": GPU,
                                    "deviceClassName": GPU,
                                    "count": 8,
                                    "attributes": {"productName": {"string": product}, "driverVersion": {"version": driver}},
                                    "capacity": {"memory": {"value": memory}},
                                },
                                {"name": "nic", "claim": "Synthetic", "driver": "net.example.com", "attributes": {"rdma": {"bool": True}}},
                            ]
                        },
                    }
                )
            )
    return out


def clusters(n: int, class_names: list[str], rng: random.Random) -> list[InferenceCluster]:
    out = []
    for i in range(n):
        pools = [{"name": f"pool-{j}", "className": rng.choice(class_names), "nodeCount": rng.randint(2, 16), "accounting": rng.choice(["Node", "Device"])} for j in range(8)]
        taints = [{"key": "reserved", "value": "batch", "effect": "NoSchedule"}] if i % 25 == 0 else []
        out.append(
            InferenceCluster.model_validate(
                {
                    "metadata": {"name": f"cluster-{i:04d}", "labels": {"region": REGIONS[i % len(REGIONS)], "tier": TIERS[i % 3]}},
                    "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": pools, "taints": taints},
                    "status": {"conditions": [{"type": "Ready", "status": "True" if i % 50 else "False"}], "gateway": {"address": f"10.0.{i // 256}.{i % 256}:8080"}},
                }
            )
        )
    return out


def deployments(n: int, rng: random.Random) -> list[ModelDeployment]:
    out = []
    for i in range(n):
        p1, p2 = rng.sample([p for p, _ in PRODUCTS], 2)
        fill: dict[str, Any] = {"mem": rng.choice(["24Gi", "40Gi", "80Gi", "100Gi"]), "p1": p1, "p2": p2, "drv": rng.choice(["530.0.0", "540.0.0", "555.0.0"]), "p1prefix": p1[:1]}
        selectors = [{"cel": s.format(**fill)} for s in rng.sample(SELECTORS, rng.randint(1, 2))]
        member = {
            "role": "Standalone",
            "nodeSelector": {"devices": [{"name": "gpu", "count": rng.choice([1, 2, 4, 8]), "selectors": selectors}]},
            "template": {"spec": {"containers": [{"name": "engine", "image": "vllm/vllm-openai:latest"}]}},
        }
        match = {"region": REGIONS[i % len(REGIONS)]} if i % 3 else {"tier": TIERS[i % 3]}
        out.append(
            ModelDeployment.model_validate(
                {
                    "metadata": {"name": f"model-{i:04d}", "namespace": f"team-{i % 20}"},
                    "spec": {"replicas": rng.randint(1, 3), "template": {"spec": {"clusterSelector": {"matchLabels": match}, "engines": [{"name": "main", "members": [member]}]}}},
                }
            )
        )
    return out


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_cpu(fn: Any) -> tuple[float, float, Any]:
    """Wall and CPU seconds: on a shared machine the CPU time says what the code costs, the
    wall time what a user waited."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--baseline-sample", type=int, default=200, help="deployments the uncached baseline plans (scaled up)")
    parser.add_argument("--full-baseline", action="store_true", help="run the baseline on every deployment")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-process", dest="process", action="store_false", help="skip the whole `laneway plan` process")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    cls = classes()
    fleet_clusters = clusters(args.clusters, [c.name for c in cls], rng)
    deps = deployments(args.deployments, rng)
    print(f"fleet: {len(fleet_clusters)} clusters x 8 pools, {len(cls)} classes, {len(deps)} deployments")

    cached = DeviceMatcher()
    cold, cold_cpu, placements = timed_cpu(lambda: plan_fleet(deps, clusters=fleet_clusters, classes=cls, matcher=cached))
    warm, warm_cpu, again = timed_cpu(lambda: plan_fleet(deps, clusters=fleet_clusters, classes=cls, matcher=cached))
    assert again == placements, "re-planning the same inputs must give the same answer"
    fleet_build, _ = timed(lambda: Fleet.build(fleet_clusters, cls))
    placed = sum(len(p.replicas) for p in placements)
    wanted = sum(p.wanted for p in placements)
    print(f"placed {placed} of {wanted} replicas; {cached.compilations} compilations, {cached.evaluations} evaluations")
    print(f"full re-plan, cold caches: {cold:.3f} s ({cold_cpu:.3f} s CPU)")
    print(f"full re-plan, warm caches: {warm:.3f} s ({warm_cpu:.3f} s CPU; of which fleet indexing {fleet_build:.3f} s)")

    sample = deps if args.full_baseline else deps[: args.baseline_sample]
    scale = len(deps) / len(sample)
    baseline = DeviceMatcher(cache=False)
    base_time, _ = timed(lambda: plan_fleet(sample, clusters=fleet_clusters, classes=cls, matcher=baseline))
    base_full = base_time * scale
    how = "all deployments" if scale == 1 else f"{len(sample)} deployments, scaled x{scale:g}"
    print(f"baseline without compiled-expression caching ({how}): {base_full:.3f} s ({baseline.compilations} compilations)")
    print(f"ratio baseline / cached: cold {base_full / cold:.1f}x, warm {base_full / warm:.1f}x")
    if args.process:
        whole_process(fleet_clusters, cls, deps)


PROCESS_TARGET = 2.0


def whole_process(fleet_clusters: list[InferenceCluster], cls: list[InferenceClass], deps: list[ModelDeployment]) -> None:
    """`laneway plan` as a user runs it, on the fleet written as one YAML file."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with tempfile.TemporaryDirectory(prefix="laneway-plan-bench-") as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.dump_all([o.wire() for o in [*cls, *fleet_clusters, *deps]], Dumper=dumper, sort_keys=False))
        size = path.stat().st_size / 1e6
        wall, cpu = plan_process(["plan", "-f", str(path), "-o", "json"])
        start_wall, start_cpu = plan_process(["plan", "--help"])
        from laneway.cli.plan import collection_paused, placement_json, run_plan

        with collection_paused():  # as the command runs them
            load, load_cpu, loaded = timed_cpu(lambda: load_paths([str(path)]))
            planned, plan_cpu, placements = timed_cpu(lambda: run_plan(loaded))
            out, out_cpu, _ = timed_cpu(lambda: json.dumps({"deployments": [placement_json(p) for p in placements]}, indent=2))
    print(f"whole `laneway plan` process on {size:.1f} MB of YAML: {wall:.2f} s ({cpu:.2f} s CPU); target {PROCESS_TARGET:.0f} s: "
          f"{wall / PROCESS_TARGET:.2f}x the target in wall time, {cpu / PROCESS_TARGET:.2f}x in CPU")
    print(f"  start-up and imports (`laneway plan --help`): {start_wall:.2f} s ({start_cpu:.2f} s CPU)")
    print(f"  in this process: loading and validating {load:.2f} s ({load_cpu:.2f} s CPU), planning {planned:.2f} s "
          f"({plan_cpu:.2f} s CPU), JSON output {out:.2f} s ({out_cpu:.2f} s CPU)")


def plan_process(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `laneway` process (CPU from the children's rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "laneway.cli.main", *args], capture_output=True, timeout=600)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"laneway {' '.join(args)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    main()
