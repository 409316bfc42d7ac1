"""The pod template of one member of one engine: pure data in, a Kubernetes PodTemplateSpec out.

What every pod gets, so an engine behaves on Kubernetes as it does under the local driver:
- a nodeSelector pinning it to the pool the scheduler chose: the pool's own `nodeSelector`,
  else the cluster's node-pool label (the provider's, e.g. `cloud.google.com/gke-nodepool`,
  or `laneway.dev/pool`) with the pool's name (see `settings.py`);
- the deployment's tolerations, plus one for the `nvidia.com/gpu` taint GPU node pools carry
  (GKE and AKS set it) when the member claims devices;
- `/dev/shm` as a memory-backed volume (NCCL and PyTorch need more than the 64 MiB default),
  bounded at 8 GiB per claimed device so it cannot take the node's memory;
- the `engine` container as the user wrote it (fields laneway does not model are kept), with
  CPU and memory requests when the user wrote none (2 CPUs and 16 GiB per claimed device:
  a BestEffort pod on a GPU node is the first evicted); on serving members (Standalone,
  Leader) the port 8000 named `http`, and unless the user wrote their own: a startup probe on
  `/health` that allows 30 minutes for the weights to load, readiness and liveness probes on
  it, and a preStop sleep so the gateway stops routing before the engine stops;
- a 130 s termination grace period (upstream vLLM manifests' value: in-flight generations end);
- on a pool whose fabric is InfiniBand, one `rdma/ib` device and `IPC_LOCK`, so NCCL and NIXL
  use RDMA rather than falling back to TCP;
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
from dataclasses import dataclass, field
from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.api.labels import ENGINE_LABEL, REPLICA_LABEL
from laneway.drivers.kubernetes.naming import (
    ENGINE_PORT,
    GPU_TAINT_KEY,
    LLMD_ROLE_LABEL,
    LWS_WORKER_INDEX_LABEL,
    MANAGED_BY,
    MANAGER,
    MODEL_CACHE_PATH,
    NAMESPACE_LABEL,
    POOL_LABEL,
    ROLE_LABEL,
    SERVING_LABEL,
    bounded_name,
    is_serving,
    owner_labels,
)
from laneway.drivers.kubernetes.prefill_decode import PodExtras

CLAIM_NAME = "devices"
RDMA_RESOURCE = "rdma/ib"  # the RDMA shared device plugin's resource, as llm-d requests it
TERMINATION_GRACE_SECONDS = 130  # upstream vLLM manifests: in-flight generations finish
PRE_STOP_SECONDS = 10  # the gateway stops routing to a terminating pod before it stops serving
# A serving engine loads its weights before /health answers: up to 30 minutes for large models.
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 180
# What a member asks for per claimed device when it writes no CPU or memory request (a
# BestEffort pod on a GPU node is the first evicted), and its /dev/shm per device.
CPU_PER_DEVICE = 2
MEMORY_GI_PER_DEVICE = 16
SHM_GI_PER_DEVICE = 8
SHM_VOLUME = "dshm"
CACHE_VOLUME = "model-cache"
PORT_NAME = "http"
HEALTH_PATH = "/health"
_ALIASED = ("PORT", "RANK", "LEADER_ADDRESS", "MODEL_CACHE")


def cache_claim_name(cache: str) -> str:
    """The PersistentVolumeClaim that holds a ModelCache's weights on the workload cluster."""
    return bounded_name("modelcache", cache)


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


@dataclass(frozen=True)
class GroupIdentity:
    """Where a pod's rank and its group leader's address come from (the env entry's source:
    `{"value": ...}` or `{"valueFrom": ...}`), which depends on what runs the group."""

    rank: dict[str, Any]
    leader_address: dict[str, Any]


# A Standalone pod is its own group: rank 0, its own address.
STANDALONE = GroupIdentity({"value": "0"}, {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
# LeaderWorkerSet: the worker-index label (0 for the leader) and the set's own leader address.
LEADER_WORKER_SET = GroupIdentity(
    {"valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{LWS_WORKER_INDEX_LABEL}']"}}},
    {"value": "$(LWS_LEADER_ADDRESS)"},
)


def _injected_env(replica: ModelReplica, engine: ReplicaEngine, *, identity: GroupIdentity, port: int) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "LANEWAY_PORT", "value": str(port)},
        {"name": "LANEWAY_RANK", **copy.deepcopy(identity.rank)},
        {"name": "LANEWAY_LEADER_ADDRESS", **copy.deepcopy(identity.leader_address)},
    ]
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
    identity: GroupIdentity,
    claims_devices: bool,
    rdma: bool = False,
    extra_env: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """The `engine` container: the user's fields, laneway's env first, port/probes/mounts added."""
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
    injected = [*_injected_env(replica, engine, identity=identity, port=port), *copy.deepcopy(list(extra_env))]
    out["env"] = [e for e in injected if e["name"] not in user_names]
    out["env"] += user_env
    if is_serving(member):
        ports = [p.model_dump(by_alias=True, exclude_none=True) for p in spec.ports]
        if not any(p.get("containerPort") == port for p in ports):
            ports.insert(0, {"name": PORT_NAME, "containerPort": port, "protocol": "TCP"})
        out["ports"] = ports
        health = {"httpGet": {"path": HEALTH_PATH, "port": port}}
        if "startupProbe" not in extra:
            out["startupProbe"] = {**health, "periodSeconds": STARTUP_PERIOD_SECONDS, "failureThreshold": STARTUP_FAILURES}
        if "readinessProbe" not in extra:
            out["readinessProbe"] = {**copy.deepcopy(health), "periodSeconds": 5, "failureThreshold": 3}
        if "livenessProbe" not in extra:
            out["livenessProbe"] = {**copy.deepcopy(health), "periodSeconds": 10, "failureThreshold": 6}
        if "lifecycle" not in extra:
            out["lifecycle"] = {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}}
    mounts: list[dict[str, Any]] = [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}]
    if replica.spec.model_cache_ref is not None:
        mounts.append({"name": CACHE_VOLUME, "mountPath": MODEL_CACHE_PATH, "readOnly": True})
    out["volumeMounts"] = [*mounts, *extra.pop("volumeMounts", [])]
    out["resources"] = _resources(member, dict(extra.pop("resources", {}) or {}), claims_devices=claims_devices, rdma=rdma)
    if rdma:
        security = dict(extra.pop("securityContext", {}) or {})
        capabilities = dict(security.get("capabilities") or {})
        capabilities["add"] = sorted({*capabilities.get("add", []), "IPC_LOCK"})
        out["securityContext"] = {**security, "capabilities": capabilities}
    out.update(extra)
    return out


def devices_claimed(member: ReplicaMember) -> int:
    return sum(d.count for d in member.device_requests)


def _resources(member: ReplicaMember, written: dict[str, Any], *, claims_devices: bool, rdma: bool) -> dict[str, Any]:
    """The user's resources, plus CPU and memory requests when they wrote none (so the pod is
    not BestEffort), the device claim, and one RDMA device on an InfiniBand pool."""
    out = copy.deepcopy(written)
    requests = dict(out.get("requests") or {})
    per = max(devices_claimed(member), 1) if claims_devices else 0
    requests.setdefault("cpu", str(CPU_PER_DEVICE * per) if per else "1")
    requests.setdefault("memory", f"{MEMORY_GI_PER_DEVICE * per}Gi" if per else "2Gi")
    if rdma:
        limits = dict(out.get("limits") or {})
        limits.setdefault(RDMA_RESOURCE, "1")
        requests.setdefault(RDMA_RESOURCE, limits[RDMA_RESOURCE])
        out["limits"] = limits
    out["requests"] = requests
    if claims_devices:
        out["claims"] = [*out.get("claims", []), {"name": CLAIM_NAME}]
    return out


def tolerations(replica: ModelReplica, *, claims_devices: bool) -> list[dict[str, Any]]:
    out = [t.model_dump(by_alias=True, exclude_none=True) for t in replica.spec.tolerations]
    covered = any(t.get("key") in (GPU_TAINT_KEY, None) and t.get("operator") == "Exists" for t in out)
    if claims_devices and not covered:
        out.append({"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"})
    return out


@dataclass(frozen=True)
class PodPlacement:
    """Where a member's pods go and what the node gives them, decided from the cluster."""

    node_selector: dict[str, str]
    rdma: bool = False  # the pool's nodes are on InfiniBand: one RDMA device and IPC_LOCK
    scheduler_name: str | None = None  # a gang scheduler (the KAI Scheduler on Dynamo clusters)
    labels: dict[str, str] = field(default_factory=dict)  # e.g. the KAI queue


def pod_template(
    replica: ModelReplica,
    engine: ReplicaEngine,
    member: ReplicaMember,
    *,
    identity: GroupIdentity,
    claim_template: str | None,
    placement: PodPlacement,
    extras: PodExtras = PodExtras(),
) -> dict[str, Any]:
    """The PodTemplateSpec of one member (`claim_template` names its ResourceClaimTemplate;
    `extras` are what disaggregated serving adds, see `prefill_decode`)."""
    claims_devices = claim_template is not None
    annotations = dict(member.template.metadata.annotations) if member.template.metadata else {}
    metadata: dict[str, Any] = {"labels": {**placement.labels, **pod_labels(replica, engine, member)}}
    if annotations:
        metadata["annotations"] = annotations
    per = max(devices_claimed(member), 1) if claims_devices else 0
    spec: dict[str, Any] = {
        "containers": [
            container(
                replica, engine, member, identity=identity, claims_devices=claims_devices,
                rdma=placement.rdma, extra_env=extras.env,
            )
        ],
        "volumes": [{"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GI_PER_DEVICE * per if per else 1}Gi"}}],
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
    }
    if extras.sidecars:
        spec["initContainers"] = [copy.deepcopy(c) for c in extras.sidecars]
    if extras.service_account:
        spec["serviceAccountName"] = extras.service_account
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.scheduler_name:
        spec["schedulerName"] = placement.scheduler_name
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
        elif key == "terminationGracePeriodSeconds":  # the team knows how long its engine drains
            spec[key] = value
        else:
            spec.setdefault(key, value)
    return {"metadata": metadata, "spec": spec}
