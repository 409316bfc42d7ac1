"""The Kubernetes API resources laneway reads and writes, with their REST paths.

A fixed table rather than discovery: laneway renders a known, small set of kinds, and knowing
their paths up front saves a discovery round trip per cluster and keeps working when a CRD
is missing (the request then fails with 404, which the driver turns into "install X").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiResource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


NAMESPACE = ApiResource("v1", "Namespace", "namespaces", namespaced=False)
NODE = ApiResource("v1", "Node", "nodes", namespaced=False)
POD = ApiResource("v1", "Pod", "pods")
SERVICE = ApiResource("v1", "Service", "services")
CONFIG_MAP = ApiResource("v1", "ConfigMap", "configmaps")
SERVICE_ACCOUNT = ApiResource("v1", "ServiceAccount", "serviceaccounts")
DEPLOYMENT = ApiResource("apps/v1", "Deployment", "deployments")
ROLE = ApiResource("rbac.authorization.k8s.io/v1", "Role", "roles")
ROLE_BINDING = ApiResource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
CLUSTER_ROLE = ApiResource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False)
CLUSTER_ROLE_BINDING = ApiResource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False)
STORAGE_CLASS = ApiResource("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False)
DEVICE_CLASS = ApiResource("resource.k8s.io/v1", "DeviceClass", "deviceclasses", namespaced=False)
GATEWAY_CLASS = ApiResource("gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", namespaced=False)
RESOURCE_CLAIM_TEMPLATE = ApiResource("resource.k8s.io/v1", "ResourceClaimTemplate", "resourceclaimtemplates")
RESOURCE_CLAIM = ApiResource("resource.k8s.io/v1", "ResourceClaim", "resourceclaims")
RESOURCE_SLICE = ApiResource("resource.k8s.io/v1", "ResourceSlice", "resourceslices", namespaced=False)
LEADER_WORKER_SET = ApiResource("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "leaderworkersets")
POD_CLIQUE_SET = ApiResource("grove.io/v1alpha1", "PodCliqueSet", "podcliquesets")
KAI_QUEUE = ApiResource("scheduling.run.ai/v2", "Queue", "queues", namespaced=False)
HTTP_ROUTE = ApiResource("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes")
GATEWAY = ApiResource("gateway.networking.k8s.io/v1", "Gateway", "gateways")
INFERENCE_POOL = ApiResource("inference.networking.k8s.io/v1", "InferencePool", "inferencepools")
CRD = ApiResource("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False)
PERSISTENT_VOLUME_CLAIM = ApiResource("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
SECRET = ApiResource("v1", "Secret", "secrets")
JOB = ApiResource("batch/v1", "Job", "jobs")

ALL = (
    NAMESPACE, NODE, POD, SERVICE, CONFIG_MAP, SERVICE_ACCOUNT, DEPLOYMENT, ROLE, ROLE_BINDING,
    CLUSTER_ROLE, CLUSTER_ROLE_BINDING, STORAGE_CLASS, DEVICE_CLASS, GATEWAY_CLASS,
    RESOURCE_CLAIM_TEMPLATE, RESOURCE_CLAIM, RESOURCE_SLICE, LEADER_WORKER_SET, POD_CLIQUE_SET, KAI_QUEUE, HTTP_ROUTE, GATEWAY,
    INFERENCE_POOL, CRD, PERSISTENT_VOLUME_CLAIM, SECRET, JOB,
)
_BY_TYPE = {(r.api_version, r.kind): r for r in ALL}

# What a replica can own on a cluster, in the order they are deleted (routes first, so no
# traffic reaches pods that are going; the Namespace is shared and never deleted). The
# endpoint picker's ClusterRole and binding are cluster-scoped, found by the same labels.
OWNED = (
    HTTP_ROUTE, INFERENCE_POOL, DEPLOYMENT, LEADER_WORKER_SET, POD_CLIQUE_SET, SERVICE, RESOURCE_CLAIM_TEMPLATE,
    CONFIG_MAP, ROLE_BINDING, ROLE, CLUSTER_ROLE_BINDING, CLUSTER_ROLE, SERVICE_ACCOUNT,
)


# The workload kinds, by the name `naming.workload_of` gives them.
WORKLOADS = {"Deployment": DEPLOYMENT, "LeaderWorkerSet": LEADER_WORKER_SET, "PodCliqueSet": POD_CLIQUE_SET}


# What a ModelCache owns on a cluster, in the order they are deleted (the Job first, so nothing
# writes the claim while it goes).
CACHE_OWNED = (JOB, SECRET, PERSISTENT_VOLUME_CLAIM)


def resource_of(obj: Mapping[str, Any]) -> ApiResource:
    """The API resource of a rendered object. Raises KeyError for a kind laneway never renders."""
    return _BY_TYPE[(str(obj.get("apiVersion")), str(obj.get("kind")))]


# Where to get what a missing API needs, for messages and `laneway cluster check`.
INSTALL_HINTS = {
    "resource.k8s.io/v1": (
        "upgrade the cluster to Kubernetes 1.34 or later, where DRA's resource.k8s.io/v1 is GA "
        "(e.g. kubeadm upgrade apply v1.34.0; managed clusters: their upgrade command), then kubectl api-versions | grep resource.k8s.io"
    ),
    "leaderworkerset.x-k8s.io/v1": (
        "install LeaderWorkerSet: kubectl apply --server-side -f "
        "https://github.com/kubernetes-sigs/lws/releases/latest/download/manifests.yaml"
    ),
    "gateway.networking.k8s.io/v1": (
        "install the Gateway API CRDs and an implementation: kubectl apply --server-side -f "
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml "
        "and an implementation, e.g. Envoy Gateway: helm install eg oci://docker.io/envoyproxy/gateway-helm "
        "-n envoy-gateway-system --create-namespace"
    ),
    "grove.io/v1alpha1": (
        "install Grove (with its kai-scheduler backend, on by default): helm upgrade -i grove "
        "oci://ghcr.io/ai-dynamo/grove/grove-charts --version VERSION -n grove-system --create-namespace "
        "(VERSION from https://github.com/ai-dynamo/grove/releases)"
    ),
    "scheduling.run.ai/v2": (
        "install the KAI Scheduler: helm upgrade -i kai-scheduler oci://ghcr.io/nvidia/kai-scheduler/kai-scheduler "
        "-n kai-scheduler --create-namespace --version VERSION (VERSION from https://github.com/NVIDIA/KAI-Scheduler/releases), "
        "then kubectl apply -f a Queue for laneway's pods"
    ),
    "inference.networking.k8s.io/v1": (
        "install the Gateway API Inference Extension: kubectl apply -f "
        "https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.0.1/manifests.yaml"
    ),
    "inference.networking.x-k8s.io/v1alpha2": (
        "install the Gateway API Inference Extension's CRDs, InferenceObjective included (the endpoint picker watches it): "
        "kubectl apply -f https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/v1.0.1/manifests.yaml"
    ),
}


def install_hint(api_version: str) -> str:
    return INSTALL_HINTS.get(api_version, f"install the CRD that serves {api_version}")
