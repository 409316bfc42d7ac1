"""What an InferenceCluster tells the Kubernetes driver beyond its pools: read once, checked, typed.

The platform team writes these under `spec.cluster.existing` (Modelplane keeps that block
open, and so does laneway) or, on a cluster laneway provisions, in its provider block
(`spec.cluster.eks`, `spec.cluster.gke`), and on each node pool:

- `gatewayRef {name, namespace}`: the Gateway routes attach to (default `laneway-system/laneway`);
- `routeTimeout`: the HTTPRoute request timeout, a Gateway API duration (default `600s`).
  Implementations cut requests at their own default otherwise (Envoy Gateway at 15 s), which
  ends long generations mid-stream; `0s` turns the timeout off where the implementation
  supports that;
- `nodePoolLabel`: the node label whose value is the pool name, for every pool of the cluster.
  Defaults to the provider's own node-pool label for GKE, EKS and AKS sources (set by the
  provider on every node it creates, so it survives autoscaling and repairs), else
  `laneway.dev/pool` (labelled by hand);
- per pool `nodeSelector`: the exact labels that select the pool's nodes, when a label per pool
  is not how the cluster is organised (it wins over `nodePoolLabel`);
- `kaiQueue`: on a `stack: Dynamo` cluster, the KAI Scheduler queue engine pods join
  (default `default`).

Pure; a value that cannot be used raises `RenderError` naming the field and what would fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import check_label_key, check_label_value
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import POOL_LABEL, GatewayRef, gateway_ref, settings_block, settings_path

DEFAULT_ROUTE_TIMEOUT = "600s"
DEFAULT_KAI_QUEUE = "default"
# Gateway API's Duration (GEP-2257), as the HTTPRoute CRD's pattern has it.
_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")

# The label each managed Kubernetes service puts on every node of a node pool (or node group).
PROVIDER_POOL_LABELS: Mapping[str, str] = {
    "GKE": "cloud.google.com/gke-nodepool",
    "EKS": "eks.amazonaws.com/nodegroup",
    "AKS": "kubernetes.azure.com/agentpool",
}

Stack = Literal["Standard", "Dynamo"]


@dataclass(frozen=True)
class ClusterSettings:
    gateway: GatewayRef
    route_timeout: str
    pool_label: str
    pool_selectors: Mapping[str, Mapping[str, str]]  # pool name -> node labels
    stack: Stack
    kai_queue: str = DEFAULT_KAI_QUEUE

    def pool_selector(self, pool: str) -> dict[str, str]:
        """The nodeSelector that pins a pod to `pool`."""
        explicit = self.pool_selectors.get(pool)
        return dict(explicit) if explicit else {self.pool_label: pool}


def _extra(cluster: InferenceCluster) -> Mapping[str, object]:
    return settings_block(cluster)[1]


def _route_timeout(cluster: InferenceCluster, value: object) -> str:
    if value is None:
        return DEFAULT_ROUTE_TIMEOUT
    text = str(value)
    if not _DURATION.match(text):
        raise RenderError(
            f"InferenceCluster {cluster.name}: {settings_path(cluster)}.routeTimeout {text!r} is not a Gateway API duration; "
            "write it like 600s, 10m or 1h (0s turns the timeout off where the gateway supports it)"
        )
    return text


def _pool_label(cluster: InferenceCluster, value: object) -> str:
    if value is None:
        return PROVIDER_POOL_LABELS.get(cluster.spec.cluster.source, POOL_LABEL)
    try:
        return check_label_key(str(value))
    except ValueError as error:
        raise RenderError(f"InferenceCluster {cluster.name}: {settings_path(cluster)}.nodePoolLabel: {error}") from None


def _pool_selectors(cluster: InferenceCluster) -> dict[str, dict[str, str]]:
    """Each pool's own `nodeSelector` (its labels were checked when the cluster was admitted)."""
    return {pool.name: dict(pool.node_selector) for pool in cluster.spec.node_pools if pool.node_selector}


def cluster_settings(cluster: InferenceCluster) -> ClusterSettings:
    extra = _extra(cluster)
    return ClusterSettings(
        gateway=gateway_ref(cluster),
        route_timeout=_route_timeout(cluster, extra.get("routeTimeout")),
        pool_label=_pool_label(cluster, extra.get("nodePoolLabel")),
        pool_selectors=_pool_selectors(cluster),
        stack=cluster.spec.stack or "Standard",
        kai_queue=_kai_queue(cluster, extra.get("kaiQueue")),
    )


def _kai_queue(cluster: InferenceCluster, value: object) -> str:
    if value is None:
        return DEFAULT_KAI_QUEUE
    try:
        return check_label_value("kai.scheduler/queue", str(value))
    except ValueError as error:
        raise RenderError(f"InferenceCluster {cluster.name}: {settings_path(cluster)}.kaiQueue: {error}") from None
