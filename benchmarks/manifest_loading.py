"""Loading and validating a fleet's manifests: libyaml's C loader against PyYAML's pure one.

Writes the fleet of `benchmarks/placement.py` (1,000 clusters x 8 pools, 18 classes, 2,000
deployments; about 3 MB of YAML) to a temporary file and loads it with
`laneway.api.manifest.load_paths`, as `laneway plan` and `laneway apply` do: parse, check the
shape bounds, build, validate. Prints the CPU seconds of the fast path (libyaml's parser and
composer where PyYAML has it) and of the same code on PyYAML's pure-Python loader, best of
`--repeat` runs, and their ratio; CPU time is what to compare on a shared machine.

    python benchmarks/manifest_loading.py [--clusters 1000] [--deployments 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from laneway.api.manifest import FAST_LOADER, PURE_LOADER, Loader, load_paths
from placement import classes, clusters, deployments


def fleet_yaml(n_clusters: int, n_deployments: int, seed: int) -> str:
    rng = random.Random(seed)
    cls = classes()
    objects = [*cls, *clusters(n_clusters, [c.name for c in cls], rng), *deployments(n_deployments, rng)]
    documents = []
    for obj in objects:
        document = obj.wire()
        document.pop("status", None)
        documents.append(document)
    return yaml.dump_all(documents, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)


def best_cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    text = fleet_yaml(args.clusters, args.deployments, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(text)

        def load(loader: Loader) -> Callable[[], object]:
            return lambda: load_paths([str(path)], loader=loader)

        count = len(load_paths([str(path)]))
        print(f"fleet: {args.clusters} clusters x 8 pools, {args.deployments} deployments: "
              f"{count} objects, {len(text) / 1e6:.1f} MB of YAML")
        fast = best_cpu(load(FAST_LOADER), args.repeat)
        pure = best_cpu(load(PURE_LOADER), args.repeat)
    which = "libyaml (C)" if FAST_LOADER is not PURE_LOADER else "PyYAML (libyaml missing)"
    print(f"load and validate, {which}: {fast:.3f} s CPU (best of {args.repeat})")
    print(f"load and validate, PyYAML pure-Python loader: {pure:.3f} s CPU (best of {args.repeat})")
    print(f"ratio pure / fast: {pure / fast:.1f}x")


if __name__ == "__main__":
    main()
