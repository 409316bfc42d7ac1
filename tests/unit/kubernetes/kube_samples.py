"""Replicas and clusters for the Kubernetes driver's unit tests, built from examples/kubernetes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from laneway.api.kinds import InferenceCluster, ModelDeployment, ModelReplica
from laneway.api.manifest import load_paths
from laneway.cli.plan import run_plan
from laneway.placement.compose import compose_replica

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "kubernetes"


@cache
def _resources() -> tuple[object, ...]:
    return tuple(load_paths([str(EXAMPLES)]))


def cluster(name: str = "gpu-eu") -> InferenceCluster:
    return next(r for r in _resources() if isinstance(r, InferenceCluster) and r.name == name)  # type: ignore[return-value]


def replica(deployment: str, index: int = 0) -> ModelReplica:
    resources = list(_resources())
    md = next(r for r in resources if isinstance(r, ModelDeployment) and r.name == deployment)
    for placement in run_plan(resources):
        if placement.deployment.name == deployment:
            placed = next(p for p in placement.replicas if p.index == index)
            return compose_replica(md, placed).model_copy(deep=True)
    raise LookupError(deployment)
