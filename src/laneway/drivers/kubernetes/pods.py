"""The pod template of one member of one engine: pure data in, a Kubernetes PodTemplateSpec out.

What every pod gets, so an engine behaves on Kubernetes as it does under the local driver:
- a nodeSelector `laneway.dev/pool=<pool>` pinning it to the pool the scheduler chose (the
  operator labels each pool's nodes; `laneway cluster check` verifies it);
- the deployment's tolerations, plus one for the `nvidia.com/gpu` taint GPU node pools carry
  (GKE and AKS set it) when the member claims devices;
- `/dev/shm` as a memory-backed volume (NCCL and PyTorch need more than the 64 MiB default);
- the `engine` container as the user wrote it (fields laneway does not model, such as
  `resources` or probes, are kept), and on serving members (Standalone, Leader) the port
  8000 named `http` with a readiness probe on `/health` unless the user wrote one;
- laneway's variables before the user's, so the user's `$(VAR)` references resolve:
  `LANEWAY_PORT`, `LANEWAY_RANK`, `LANEWAY_LEADER_ADDRESS`, `LANEWAY_REPLICA`,
  `LANEWAY_NAMESPACE`, `LANEWAY_ENGINE`, `LANEWAY_MODEL_CACHE` and the `MODELPLANE_` aliases.
  In a LeaderWorkerSet, the leader address is the set's own `$(LWS_LEADER_ADDRESS)`: LWS's
  pod webhook puts `LWS_LEADER_ADDRESS` and `LWS_GROUP_SIZE` first in every container's env
  (`addEnvVarsIfNotExists` in sigs.k8s.io/lws/pkg/utils/pod), and Kubernetes expands a
  `$(VAR)` only from variables defined earlier in the list, so the reference resolves. The
  rank is read with the downward API from the pod's `leaderworkerset.sigs.k8s.io/worker-index`
  label (0 for the leader), which every LWS release sets, rather than `$(LWS_WORKER_INDEX)`,
  which older releases do not inject (the reference would stay literal). A Standalone pod has
  rank 0 and its own pod IP;
- the ModelCache volume read-only at `/mnt/models` when the replica references a cache: the
  PersistentVolumeClaim `modelcache-<cache>` in the replica's namespace;
- the member's ResourceClaimTemplate as a pod resource claim the container consumes.
"""

from __future__ import annotations

import copy
from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.drivers.kubernetes.naming import (
    ENGINE_LABEL,
    ENGINE_PORT,
    GPU_TAINT_KEY,
    LLMD_ROLE_LABEL,
    LWS_WORKER_INDEX_LABEL,
    MANAGED_BY,
    MANAGER,
    MODEL_CACHE_PATH,
    NAMESPACE_LABEL,
    POOL_LABEL,
    REPLICA_LABEL,
    ROLE_LABEL,
    SERVING_LABEL,
    bounded_name,
    owner_labels,
)

CLAIM_NAME = "devices"
SHM_VOLUME = "dshm"
CACHE_VOLUME = "model-cache"
PORT_NAME = "http"
HEALTH_PATH = "/health"
_ALIASED = ("PORT", "RANK", "LEADER_ADDRESS", "MODEL_CACHE")


def cache_claim_name(cache: str) -> str:
    """The PersistentVolumeClaim that holds a ModelCache's weights on the workload cluster."""
    return bounded_name("modelcache", cache)


def is_serving(member: ReplicaMember) -> bool:
    return member.role in ("Standalone", "Leader")


def pod_labels(replica: ModelReplica, engine: ReplicaEngine, member: ReplicaMember) -> dict[str, str]:
    """Labels of a member's pods: the user's, then laneway's (which win)."""
    user = dict(member.template.metadata.labels) if member.template.metadata else {}
    labels = {
        **user,
        **owner_labels(replica),
        ENGINE_LABEL: engine.name,
        ROLE_LABEL: member.role.lower(),
    }
    if member.node_pool_name:
        labels[POOL_LABEL] = member.node_pool_name
    if is_serving(member):
        labels[SERVING_LABEL] = "true"
    if engine.phase:
        labels[LLMD_ROLE_LABEL] = engine.phase.lower()
    return labels


def selector_labels(replica: ModelReplica, engine: str) -> dict[str, str]:
    """What a Deployment, Service or InferencePool selects a replica's engine pods by."""
    return {**replica_pod_selector(replica), ENGINE_LABEL: engine}


def replica_pod_selector(replica: ModelReplica) -> dict[str, str]:
    """What selects every pod of a replica (the selector is immutable on a Deployment, so it
    holds only what never changes for a replica)."""
    return {MANAGED_BY: MANAGER, NAMESPACE_LABEL: replica.namespace, REPLICA_LABEL: replica.name}


def _injected_env(replica: ModelReplica, engine: ReplicaEngine, *, leader_worker: bool, port: int) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "LANEWAY_PORT", "value": str(port)}]
    if leader_worker:
        env.append({"name": "LANEWAY_RANK", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{LWS_WORKER_INDEX_LABEL}']"}}})
        env.append({"name": "LANEWAY_LEADER_ADDRESS", "value": "$(LWS_LEADER_ADDRESS)"})
    else:
        env.append({"name": "LANEWAY_RANK", "value": "0"})
        env.append({"name": "LANEWAY_LEADER_ADDRESS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    env += [
        {"name": "LANEWAY_REPLICA", "value": replica.name},
        {"name": "LANEWAY_NAMESPACE", "value": replica.namespace},
        {"name": "LANEWAY_ENGINE", "value": engine.name},
    ]
    if replica.spec.model_cache_ref is not None:
        env.append({"name": "LANEWAY_MODEL_CACHE", "value": MODEL_CACHE_PATH})
    by_name = {e["name"]: e for e in env}
    for key in _ALIASED:
        source = by_name.get(f"LANEWAY_{key}")
        if source is not None:
            env.append({**copy.deepcopy(source), "name": f"MODELPLANE_{key}"})  # no shared dicts (YAML anchors)
    return env


def container(
    replica: ModelReplica,
    engine: ReplicaEngine,
    member: ReplicaMember,
    *,
    leader_worker: bool,
    claims_devices: bool,
) -> dict[str, Any]:
    """The `engine` container: the user's fields, laneway's env first, port/probe/mounts added."""
    spec = member.container
    port = spec.port or ENGINE_PORT
    extra = dict(spec.model_extra or {})
    extra.pop("port", None)
    out: dict[str, Any] = {"name": "engine", "image": spec.image}
    if spec.command:
        out["command"] = list(spec.command)
    if spec.args:
        out["args"] = list(spec.args)
    user_env = [e.model_dump(by_alias=True, exclude_none=True) for e in spec.env]
    user_names = {e["name"] for e in user_env}
    out["env"] = [e for e in _injected_env(replica, engine, leader_worker=leader_worker, port=port) if e["name"] not in user_names]
    out["env"] += user_env
    if is_serving(member):
        ports = [p.model_dump(by_alias=True, exclude_none=True) for p in spec.ports]
        if not any(p.get("containerPort") == port for p in ports):
            ports.insert(0, {"name": PORT_NAME, "containerPort": port, "protocol": "TCP"})
        out["ports"] = ports
        if "readinessProbe" not in extra:
            out["readinessProbe"] = {
                "httpGet": {"path": HEALTH_PATH, "port": port},
                "periodSeconds": 5,
                "failureThreshold": 3,
            }
    mounts = [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}]
    if replica.spec.model_cache_ref is not None:
        mounts.append({"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_PATH, "readOnly": True})
    out["volumeMounts"] = [*mounts, *extra.pop("volumeMounts", [])]
    resources = dict(extra.pop("resources", {}) or {})
    if claims_devices:
        resources["claims"] = [*resources.get("claims", []), {"name": CLAIM_NAME}]
    if resources:
        out["resources"] = resources
    out.update(extra)
    return out


def tolerations(replica: ModelReplica, *, claims_devices: bool) -> list[dict[str, Any]]:
    out = [t.model_dump(by_alias=True, exclude_none=True) for t in replica.spec.tolerations]
    covered = any(t.get("key") in (GPU_TAINT_KEY, None) and t.get("operator") == "Exists" for t in out)
    if claims_devices and not covered:
        out.append({"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"})
    return out


def pod_template(
    replica: ModelReplica,
    engine: ReplicaEngine,
    member: ReplicaMember,
    *,
    leader_worker: bool,
    claim_template: str | None,
) -> dict[str, Any]:
    """The PodTemplateSpec of one member (`claim_template` names its ResourceClaimTemplate)."""
    claims_devices = claim_template is not None
    annotations = dict(member.template.metadata.annotations) if member.template.metadata else {}
    metadata: dict[str, Any] = {"labels": pod_labels(replica, engine, member)}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {
        "containers": [container(replica, engine, member, leader_worker=leader_worker, claims_devices=claims_devices)],
        "volumes": [{"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}}],
    }
    if member.node_pool_name:
        spec["nodeSelector"] = {POOL_LABEL: member.node_pool_name}
    tol = tolerations(replica, claims_devices=claims_devices)
    if tol:
        spec["tolerations"] = tol
    if replica.spec.model_cache_ref is not None:
        spec["volumes"].append(
            {
                "name": CACHE_VOLUME,
                "persistentVolumeClaim": {"claimName": cache_claim_name(replica.spec.model_cache_ref.name), "readOnly": True},
            }
        )
    if claim_template is not None:
        spec["resourceClaims"] = [{"name": CLAIM_NAME, "resourceClaimTemplateName": claim_template}]
    extra = dict(member.template.spec.model_extra or {})
    for key, value in extra.items():  # PodSpec fields laneway does not model are kept; lists are joined
        if isinstance(spec.get(key), list) and isinstance(value, list):
            spec[key] = [*spec[key], *value]
        else:
            spec.setdefault(key, value)
    return {"metadata": metadata, "spec": spec}
