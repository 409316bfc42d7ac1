"""How a replica is reached on its cluster: Services, HTTPRoutes, and for PrefillDecode an
InferencePool with its endpoint picker.

- Every serving engine (its Standalone or Leader pods) gets a ClusterIP Service on port 8000
  (named so it never takes a LeaderWorkerSet's headless Service, see `naming`).
- One Gateway API `HTTPRoute` per serving engine attaches to the cluster's Gateway (see
  `settings`): one route never mixes two engines (a chat model and an embedding model of one
  replica would otherwise share requests). A replica with one serving engine is exposed under
  `/<namespace>/<replica>`, one with several under `/<namespace>/<replica>/<engine>` each, with
  the prefix rewritten to `/`, so the engine sees `/v1/chat/completions` as it expects. Each
  rule carries a request timeout (`routeTimeout`, default 600 s): implementations cut requests
  at their own default otherwise (Envoy Gateway's is 15 s), mid-generation.
- Under `serving.mode: PrefillDecode` the route's backend is a Gateway API Inference Extension
  `InferencePool` (inference.networking.k8s.io/v1) over both engines' serving pods, on the
  prefill engines' port, whose endpoint picker is llm-d's inference scheduler configured for
  disaggregated serving: its `pd-profile-handler` sends each request's prefill to pods
  labelled `llm-d.ai/role=prefill` and its decode to `llm-d.ai/role=decode` (whose routing
  sidecar, see `prefill_decode`, runs the prefill step), as Modelplane does with llm-d. The
  picker runs as a Deployment (Recreate: one picker at a time, 130 s to drain) with its
  Service, ConfigMap, the Role it needs to watch pods and pools, and the ClusterRole its
  metrics endpoint's authentication needs (token and access reviews).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.labels import ENGINE_LABEL
from laneway.drivers.kubernetes.naming import (
    ENGINE_PORT,
    SERVING_LABEL,
    GatewayRef,
    RouteTarget,
    bounded_name,
    engine_service_name,
    is_serving,
    owner_labels,
    picker_name,
    pool_name,
    route_targets,
    target_namespace,
)
from laneway.drivers.kubernetes.pods import replica_pod_selector, selector_labels
from laneway.drivers.kubernetes.prefill_decode import pool_port
from laneway.drivers.kubernetes.settings import DEFAULT_ROUTE_TIMEOUT

DEFAULT_PICKER_IMAGE = "ghcr.io/llm-d/llm-d-inference-scheduler:v0.3.2"
PICKER_GRPC_PORT = 9002
PICKER_HEALTH_PORT = 9003
PICKER_METRICS_PORT = 9090
PICKER_CONFIG_FILE = "epp-config.yaml"
PICKER_GRACE_SECONDS = 130
INFERENCE_GROUP = "inference.networking.k8s.io"

PD_PICKER_CONFIG: dict[str, Any] = {
    "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
    "kind": "EndpointPickerConfig",
    "plugins": [
        {"type": "prefill-header-handler"},
        {"type": "prefill-filter"},
        {"type": "decode-filter"},
        {"type": "queue-scorer"},
        {"type": "max-score-picker"},
        {"type": "pd-profile-handler", "parameters": {"threshold": 0, "hashBlockSize": 64}},
    ],
    "schedulingProfiles": [
        {
            "name": "prefill",
            "plugins": [{"pluginRef": "prefill-filter"}, {"pluginRef": "queue-scorer", "weight": 1}, {"pluginRef": "max-score-picker"}],
        },
        {
            "name": "decode",
            "plugins": [{"pluginRef": "decode-filter"}, {"pluginRef": "queue-scorer", "weight": 1}, {"pluginRef": "max-score-picker"}],
        },
    ],
}


@dataclass(frozen=True)
class RoutingOptions:
    gateway: GatewayRef
    picker_image: str = DEFAULT_PICKER_IMAGE
    route_timeout: str = DEFAULT_ROUTE_TIMEOUT


def _meta(replica: ModelReplica, name: str, namespace: str, **extra_labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**owner_labels(replica), **extra_labels}}


def engine_services(replica: ModelReplica, namespace: str) -> list[dict[str, Any]]:
    out = []
    for engine in replica.spec.engines:
        if not any(is_serving(m) for m in engine.members):
            continue
        selector: dict[str, str] = {**selector_labels(replica, engine.name), SERVING_LABEL: "true"}
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(replica, engine_service_name(replica, engine), namespace, **{ENGINE_LABEL: engine.name}),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [{"name": "http", "port": ENGINE_PORT, "targetPort": _engine_port(replica, engine.name), "protocol": "TCP"}],
                },
            }
        )
    return out


def _engine_port(replica: ModelReplica, engine: str) -> int:
    for e in replica.spec.engines:
        if e.name == engine:
            for m in e.members:
                if is_serving(m):
                    return m.container.port or ENGINE_PORT
    return ENGINE_PORT


def _route(replica: ModelReplica, namespace: str, options: RoutingOptions, target: RouteTarget) -> dict[str, Any]:
    if replica.spec.serving.mode == "PrefillDecode":
        backends: list[dict[str, Any]] = [{"group": INFERENCE_GROUP, "kind": "InferencePool", "name": pool_name(replica)}]
    else:
        engine = next(e for e in replica.spec.engines if e.name == target.engine)
        backends = [{"name": engine_service_name(replica, engine), "port": ENGINE_PORT}]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(replica, target.name, namespace, **{ENGINE_LABEL: target.engine}),
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": options.gateway.name,
                    "namespace": options.gateway.namespace,
                }
            ],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": target.prefix}}],
                    "filters": [
                        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
                    ],
                    "backendRefs": backends,
                    "timeouts": {"request": options.route_timeout},
                }
            ],
        },
    }


def http_routes(replica: ModelReplica, namespace: str, options: RoutingOptions) -> list[dict[str, Any]]:
    """One HTTPRoute per serving engine (one for a PrefillDecode replica's pool)."""
    return [_route(replica, namespace, options, target) for target in route_targets(replica)]


def picker_cluster_role_name(replica: ModelReplica) -> str:
    """Cluster-scoped, so the name carries the workload namespace as well as the replica."""
    return bounded_name(target_namespace(replica.namespace), replica.name, "epp")


def inference_pool(replica: ModelReplica, namespace: str, options: RoutingOptions) -> list[dict[str, Any]]:
    """The InferencePool and its llm-d endpoint picker (ConfigMap, RBAC, Deployment, Service)."""
    name = pool_name(replica)
    picker = picker_name(replica)
    picker_labels = {**replica_pod_selector(replica), ENGINE_LABEL: "epp"}
    config = yaml.safe_dump(PD_PICKER_CONFIG, sort_keys=False)
    return [
        {
            "apiVersion": f"{INFERENCE_GROUP}/v1",
            "kind": "InferencePool",
            "metadata": _meta(replica, name, namespace),
            "spec": {
                "selector": {"matchLabels": {**replica_pod_selector(replica), SERVING_LABEL: "true"}},
                "targetPorts": [{"number": pool_port(replica)}],
                "endpointPickerRef": {
                    "name": picker,
                    "port": {"number": PICKER_GRPC_PORT},
                    "failureMode": "FailClose",
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(replica, picker, namespace),
            "data": {PICKER_CONFIG_FILE: config},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(replica, picker, namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(replica, picker, namespace),
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["inference.networking.x-k8s.io"], "resources": ["inferenceobjectives"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(replica, picker, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": picker},
            "subjects": [{"kind": "ServiceAccount", "name": picker, "namespace": namespace}],
        },
        {
            # The metrics endpoint authenticates its scrapers with token and access reviews.
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": picker_cluster_role_name(replica), "labels": owner_labels(replica)},
            "rules": [
                {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": picker_cluster_role_name(replica), "labels": owner_labels(replica)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": picker_cluster_role_name(replica)},
            "subjects": [{"kind": "ServiceAccount", "name": picker, "namespace": namespace}],
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(replica, picker, namespace, **{ENGINE_LABEL: "epp"}),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": picker_labels},
                "template": {
                    "metadata": {"labels": {**owner_labels(replica), ENGINE_LABEL: "epp"}},
                    "spec": {
                        "serviceAccountName": picker,
                        "terminationGracePeriodSeconds": PICKER_GRACE_SECONDS,
                        "containers": [
                            {
                                "name": "epp",
                                "image": options.picker_image,
                                "args": [
                                    "--pool-name", name,
                                    "--pool-namespace", namespace,
                                    "--config-file", f"/config/{PICKER_CONFIG_FILE}",
                                    "--grpc-port", str(PICKER_GRPC_PORT),
                                    "--grpc-health-port", str(PICKER_HEALTH_PORT),
                                ],
                                "ports": [
                                    {"name": "grpc", "containerPort": PICKER_GRPC_PORT},
                                    {"name": "grpc-health", "containerPort": PICKER_HEALTH_PORT},
                                    {"name": "metrics", "containerPort": PICKER_METRICS_PORT},
                                ],
                                "readinessProbe": {
                                    "grpc": {"port": PICKER_HEALTH_PORT, "service": "inference-extension"},
                                    "periodSeconds": 2,
                                },
                                "volumeMounts": [{"name": "config", "mountPath": "/config"}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": picker}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(replica, picker, namespace, **{ENGINE_LABEL: "epp"}),
            "spec": {
                "type": "ClusterIP",
                "selector": picker_labels,
                "ports": [{"name": "grpc", "port": PICKER_GRPC_PORT, "targetPort": PICKER_GRPC_PORT, "protocol": "TCP", "appProtocol": "http2"}],
            },
        },
    ]
