"""Names and labels of what laneway puts on a workload cluster, in one place.

Every object rendered for a replica carries the same ownership labels, so the driver can find
(and delete) everything a replica owns by one label selector, and an operator reading the
cluster with kubectl sees whose each object is:

- `app.kubernetes.io/managed-by: laneway` and `app.kubernetes.io/part-of: laneway`;
- `laneway.dev/namespace`, `laneway.dev/deployment`, `laneway.dev/replica` (the laneway
  objects it serves) and `laneway.dev/cluster` (the InferenceCluster it was placed on);
- on pods also `laneway.dev/engine`, `laneway.dev/role` and `laneway.dev/pool`.

Object names are derived from the replica's name and stay within Kubernetes' limits: a name
that would be too long keeps a readable prefix and ends with a short hash of the whole, so two
long names never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.labels import CLUSTER_LABEL, DEPLOYMENT_LABEL, ENGINE_LABEL, REPLICA_LABEL  # noqa: F401 - re-exported
from laneway.api.meta import LABEL_PREFIX, SYSTEM_NAMESPACE

MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
MANAGER = "laneway"
FIELD_MANAGER = "laneway"

NAMESPACE_LABEL = LABEL_PREFIX + "namespace"
ROLE_LABEL = LABEL_PREFIX + "role"
POOL_LABEL = LABEL_PREFIX + "pool"
SERVING_LABEL = LABEL_PREFIX + "serving"
TARGET_CLUSTER_ANNOTATION = LABEL_PREFIX + "target-cluster"
LLMD_ROLE_LABEL = "llm-d.ai/role"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"  # set by LeaderWorkerSet on its pods

NAMESPACE_PREFIX = "laneway-"
DEFAULT_GATEWAY_NAME = "laneway"
DEFAULT_GATEWAY_NAMESPACE = SYSTEM_NAMESPACE
ENGINE_PORT = 8000
MODEL_CACHE_PATH = "/mnt/models"
GPU_TAINT_KEY = "nvidia.com/gpu"

_MAX_NAME = 63
_MAX_WORKLOAD_NAME = 50


def bounded_name(*parts: str, limit: int = _MAX_NAME) -> str:
    """`a-b-c`, or when longer than `limit` a prefix of it plus an 8-character hash of the
    whole name (so it stays unique and a valid DNS label)."""
    full = "-".join(p for p in parts if p)
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: limit - 9].rstrip('-')}-{digest}"


def service_name(*parts: str, limit: int = _MAX_NAME) -> str:
    """A Service name must also start with a letter (DNS-1035); prefix one that does not."""
    name = bounded_name(*parts, limit=limit)
    return name if name[0].isalpha() else bounded_name("r", *parts, limit=limit)


def target_namespace(namespace: str) -> str:
    """The workload cluster's namespace for one laneway namespace: `laneway-<namespace>`."""
    return bounded_name(NAMESPACE_PREFIX.rstrip("-"), namespace)


def is_serving(member: ReplicaMember) -> bool:
    """Whether a member answers requests (Standalone, or the Leader of a group)."""
    return member.role in ("Standalone", "Leader")


def uses_leader_worker_set(engine: ReplicaEngine) -> bool:
    """An engine with no Standalone member runs as a LeaderWorkerSet (else as a Deployment)."""
    return not any(m.role == "Standalone" for m in engine.members)


def workload_name(replica: ModelReplica, engine: str) -> str:
    """Deployment / LeaderWorkerSet of one engine. LeaderWorkerSet names its pods
    `<name>-<group>-<index>` and its headless Service after itself, so keep it short."""
    return service_name(replica.name, engine, limit=_MAX_WORKLOAD_NAME)


# Grove (the Dynamo stack's gang workload) refuses a PodCliqueSet whose name and longest
# clique name exceed 45 characters together: its pod names are built from them.
GROVE_NAME_BUDGET = 45
LEADER_CLIQUE = "leader"

WorkloadKind = Literal["Deployment", "LeaderWorkerSet", "PodCliqueSet"]


def worker_clique(rank: int) -> str:
    """The Grove clique of the worker with `rank` (1..N): one clique per rank."""
    return f"worker-{rank}"


def workload_of(replica: ModelReplica, engine: ReplicaEngine, *, stack: str = "Standard") -> tuple[WorkloadKind, str]:
    """The kind and name of an engine's workload: a Deployment for a Standalone engine; for a
    Leader/Worker engine a LeaderWorkerSet, or on a Dynamo cluster a Grove PodCliqueSet whose
    name leaves room for its longest clique name."""
    if not uses_leader_worker_set(engine):
        return "Deployment", workload_name(replica, engine.name)
    if stack != "Dynamo":
        return "LeaderWorkerSet", workload_name(replica, engine.name)
    workers = max((m.pods for m in engine.members if m.role == "Worker"), default=1)
    longest = max(len(LEADER_CLIQUE), len(worker_clique(workers)))
    return "PodCliqueSet", service_name(replica.name, engine.name, limit=min(_MAX_WORKLOAD_NAME, GROVE_NAME_BUDGET - longest))


def claim_template_name(replica: ModelReplica, engine: str, role: str, digest: str) -> str:
    """A ResourceClaimTemplate's `spec` is immutable, so its name carries a digest of that spec:
    a changed device request is a new template (the old one is pruned), never a refused update."""
    return bounded_name(replica.name, engine, role.lower(), digest)


def engine_service_name(replica: ModelReplica, engine: ReplicaEngine) -> str:
    """The ClusterIP Service of an engine's serving pods. A LeaderWorkerSet owns the name it
    shares with its headless Service (`<set>`; LWS creates that Service only when none exists,
    and the leader address resolves through it), so a LeaderWorkerSet engine's own Service is
    `<set>-leader`, as upstream's examples name it."""
    if uses_leader_worker_set(engine):
        return bounded_name(workload_name(replica, engine.name), "leader")
    return service_name(replica.name, engine.name)


@dataclass(frozen=True)
class RouteTarget:
    """One HTTPRoute of a replica: the engine it reaches, its name and its path prefix."""

    engine: str
    name: str
    prefix: str


def route_prefix(replica: ModelReplica) -> str:
    """The path the replica is exposed under on its cluster's gateway (rewritten to `/`)."""
    return f"/{replica.namespace}/{replica.name}"


def serving_engines(replica: ModelReplica) -> list[ReplicaEngine]:
    return [e for e in replica.spec.engines if any(is_serving(m) for m in e.members)]


def route_targets(replica: ModelReplica) -> list[RouteTarget]:
    """One route per serving engine, so one route never mixes two models (a chat engine and an
    embedding engine of one replica are `/<ns>/<replica>/<engine>` each). A replica with one
    serving engine, or a PrefillDecode replica (one InferencePool behind one route), keeps the
    replica's own path."""
    engines = serving_engines(replica)
    if replica.spec.serving.mode == "PrefillDecode" or len(engines) <= 1:
        engine = engines[0].name if engines else replica.spec.engines[0].name
        return [RouteTarget(engine, bounded_name(replica.name), route_prefix(replica))]
    return [RouteTarget(e.name, bounded_name(replica.name, e.name), f"{route_prefix(replica)}/{e.name}") for e in engines]


def pool_name(replica: ModelReplica) -> str:
    return bounded_name(replica.name)


def picker_name(replica: ModelReplica) -> str:
    return service_name(replica.name, "epp")


def owner_labels(replica: ModelReplica) -> dict[str, str]:
    """The labels that tie an object to its replica, deployment and laneway."""
    labels = {
        MANAGED_BY: MANAGER,
        PART_OF: MANAGER,
        NAMESPACE_LABEL: replica.namespace,
        REPLICA_LABEL: replica.name,
        CLUSTER_LABEL: replica.spec.cluster_name,
    }
    deployment = replica.metadata.labels.get(DEPLOYMENT_LABEL)
    if deployment:
        labels[DEPLOYMENT_LABEL] = deployment
    return labels


def replica_selector(replica: ModelReplica) -> str:
    """The label selector (string form) that finds everything one replica owns."""
    return f"{MANAGED_BY}={MANAGER},{NAMESPACE_LABEL}={replica.namespace},{REPLICA_LABEL}={replica.name}"


@dataclass(frozen=True)
class GatewayRef:
    """The Gateway (on the workload cluster) that HTTPRoutes attach to and whose status
    carries the cluster's gateway address."""

    name: str = DEFAULT_GATEWAY_NAME
    namespace: str = DEFAULT_GATEWAY_NAMESPACE


def settings_block(cluster: InferenceCluster) -> tuple[str, Mapping[str, object]]:
    """Where the cluster's Kubernetes settings (gatewayRef, nodePoolLabel, cache, ...) are
    written, and what is there: `spec.cluster.existing` on an Existing cluster, the provider
    block (`spec.cluster.eks`, `spec.cluster.gke`) on a cluster laneway provisions."""
    existing = cluster.spec.cluster.existing
    if existing is not None:
        return "spec.cluster.existing", existing.model_extra or {}
    name = cluster.spec.cluster.source.lower()
    block = (cluster.spec.cluster.model_extra or {}).get(name)
    if isinstance(block, dict):
        return f"spec.cluster.{name}", block
    return "spec.cluster.existing", {}


def settings_path(cluster: InferenceCluster) -> str:
    """`spec.cluster.existing` or the provider block's path: for messages naming a setting."""
    return settings_block(cluster)[0]


def gateway_ref(cluster: InferenceCluster) -> GatewayRef:
    """`gatewayRef {name, namespace}` in the cluster's settings block when written, else
    laneway-system/laneway."""
    ref = settings_block(cluster)[1].get("gatewayRef")
    if isinstance(ref, dict):
        return GatewayRef(
            name=str(ref.get("name") or DEFAULT_GATEWAY_NAME),
            namespace=str(ref.get("namespace") or DEFAULT_GATEWAY_NAMESPACE),
        )
    return GatewayRef()
