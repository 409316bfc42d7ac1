"""Plain-data builders for scheduler tests: classes, clusters, deployments, replicas."""

from __future__ import annotations

from typing import Any

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment, ModelReplica
from laneway.placement.compose import compose_replica
from laneway.placement.model import ReplicaPlacement

GPU = "gpu.nvidia.com"


def gpu_class(name: str, *, memory: str = "80Gi", product: str = "H100", count: int = 8, version: str = "550.54.15") -> InferenceClass:
    return InferenceClass.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "devices": [
                    {
                        "name": "gpu",
                        "driver": GPU,
                        "deviceClassName": GPU,
                        "count": count,
                        "attributes": {"productName": {"string": product}, "driverVersion": {"version": version}},
                        "capacity": {"memory": {"value": memory}},
                    }
                ]
            },
        }
    )


SOURCES: dict[str, dict[str, Any]] = {
    "Local": {"source": "Local", "local": {}},
    "Existing": {"source": "Existing", "existing": {"secretRef": {"name": "kubeconfig", "key": "config"}}},
}


def cluster(
    name: str,
    pools: list[tuple[str, str, int]] | list[dict[str, Any]],
    *,
    labels: dict[str, str] | None = None,
    ready: bool = True,
    gateway: str | None = "10.0.0.1:8080",
    taints: list[dict[str, str]] | None = None,
    source: str = "Local",
) -> InferenceCluster:
    pool_docs = [p if isinstance(p, dict) else {"name": p[0], "className": p[1], "nodeCount": p[2]} for p in pools]
    return InferenceCluster.model_validate(
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"cluster": SOURCES[source], "nodePools": pool_docs, "taints": taints or []},
            "status": {
                "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "Test"}],
                "gateway": {"address": gateway} if gateway else {},
            },
        }
    )


def member(role: str = "Standalone", *, count: int = 1, selectors: list[str] | None = None, nodes: int | None = None, devices: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"role": role, "template": {"spec": {"containers": [{"name": "engine", "image": "vllm:latest"}]}}}
    if devices:
        doc["nodeSelector"] = {"devices": [{"name": "gpu", "count": count, "selectors": [{"cel": s} for s in (selectors or [])]}]}
    if nodes is not None:
        doc["worker"] = {"nodes": nodes}
    return doc


def deployment(
    name: str,
    *,
    replicas: int = 1,
    namespace: str = "default",
    engines: list[dict[str, Any]] | None = None,
    selectors: list[str] | None = None,
    count: int = 1,
    match_labels: dict[str, str] | None = None,
    tolerations: list[dict[str, str]] | None = None,
    uid: str | None = None,
) -> ModelDeployment:
    engines = engines or [{"name": "main", "members": [member(count=count, selectors=selectors)]}]
    return ModelDeployment.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace, **({"uid": uid} if uid else {})},
            "spec": {
                "replicas": replicas,
                "template": {
                    "spec": {
                        "clusterSelector": {"matchLabels": match_labels or {}},
                        "tolerations": tolerations or [],
                        "engines": engines,
                    }
                },
            },
        }
    )


def as_replicas(dep: ModelDeployment, placed: tuple[ReplicaPlacement, ...] | list[ReplicaPlacement]) -> list[ModelReplica]:
    return [compose_replica(dep, r) for r in placed]
