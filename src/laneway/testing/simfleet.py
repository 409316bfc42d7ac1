"""A simulated fleet as manifests: GPU classes, `source: Simulated` clusters and deployments
that fit them, generated deterministically from a seed.

Used by `benchmarks/fleet_live.py` (a thousand clusters, two thousand deployments through a
real `laneway up`) and by the integration tests of the live scheduler; also a starting point
for a capacity question (see docs/concepts/simulated-clusters.md).
"""

from __future__ import annotations

import random
from typing import Literal

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceClass, InferenceCluster

GPU = "gpu.nvidia.com"
PRODUCTS = (("h100", "H100", "80Gi"), ("h200", "H200", "141Gi"), ("a100", "A100", "80Gi"), ("l4", "L4", "24Gi"))
REGIONS = ("us-east", "us-west", "eu-west", "eu-central", "ap-south")
MEMORY_NEEDS = ("24Gi", "40Gi", "80Gi", "141Gi")
Endpoints = Literal["None", "Simulator"]


def gpu_classes() -> list[InferenceClass]:
    """One class per product: 8 GPUs per node, published through DRA."""
    return [
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
                            "attributes": {"productName": {"string": product}},
                            "capacity": {"memory": {"value": memory}},
                        }
                    ]
                },
            }
        )
        for name, product, memory in PRODUCTS
    ]


def simulated_cluster(
    name: str,
    pools: list[tuple[str, str, int]],
    *,
    labels: dict[str, str] | None = None,
    endpoints: Endpoints = "None",
    reachable: bool = True,
    grace: str | None = None,
    startup_seconds: float = 0.0,
) -> InferenceCluster:
    """One simulated cluster; `pools` are (name, class, nodes)."""
    spec: dict[str, object] = {
        "cluster": {"source": "Simulated", "simulated": {"endpoints": endpoints, "reachable": reachable, "startupSeconds": startup_seconds}},
        "nodePools": [{"name": p, "className": c, "nodeCount": n} for p, c, n in pools],
    }
    if grace is not None:
        spec["notReadyGracePeriod"] = grace
    return InferenceCluster.model_validate({"metadata": {"name": name, "labels": labels or {}}, "spec": spec})


def simulated_clusters(count: int, *, seed: int = 13, pools: int = 8, endpoints: Endpoints = "None") -> list[InferenceCluster]:
    rng = random.Random(seed)
    return [
        simulated_cluster(
            f"sim-{i:04d}",
            [(f"pool-{j}", rng.choice(PRODUCTS)[0], rng.randint(1, 4)) for j in range(pools)],
            labels={"region": REGIONS[i % len(REGIONS)], "tier": ("gold", "silver")[i % 2]},
            endpoints=endpoints,
        )
        for i in range(count)
    ]


def model_deployment(
    name: str, *, replicas: int = 1, namespace: str = "default", memory: str = "24Gi", gpus: int = 1, region: str | None = None
) -> ModelDeployment:
    """A deployment of one Standalone engine asking for `gpus` GPUs of at least `memory`."""
    selector = f'device.capacity["{GPU}"].memory.compareTo(quantity("{memory}")) >= 0'
    return ModelDeployment.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "template": {
                    "spec": {
                        "clusterSelector": {"matchLabels": {"region": region} if region else {}},
                        "engines": [
                            {
                                "name": "main",
                                "members": [
                                    {
                                        "role": "Standalone",
                                        "nodeSelector": {"devices": [{"name": "gpu", "count": gpus, "selectors": [{"cel": selector}]}]},
                                        "template": {"spec": {"containers": [{"name": "engine", "image": "vllm/vllm-openai:latest"}]}},
                                    }
                                ],
                            }
                        ],
                    }
                },
            },
        }
    )


def model_deployments(count: int, *, seed: int = 13, namespace: str = "default") -> list[ModelDeployment]:
    """Deployments of one or two replicas, mixed memory needs, a third pinned to a region."""
    rng = random.Random(seed)
    return [
        model_deployment(
            f"model-{i:04d}",
            replicas=rng.choice((1, 1, 2)),
            namespace=namespace,
            memory=rng.choice(MEMORY_NEEDS[:3]),
            gpus=rng.choice((1, 2, 4, 8)),
            region=REGIONS[i % len(REGIONS)] if i % 3 == 0 else None,
        )
        for i in range(count)
    ]
