"""The workload objects of one engine: a Deployment or a LeaderWorkerSet, and its claims.

- A Standalone engine is a Deployment with `replicas` = the engine's copies. A Deployment that
  claims devices rolls out with `maxSurge: 0, maxUnavailable: 1`: a surge pod would need a
  spare device, which a full pool does not have, and the rollout would stall.
- A Leader/Worker engine is a LeaderWorkerSet: `replicas` = copies, group `size` =
  1 + worker.nodes, the Leader member as `leaderTemplate` and the Worker as `workerTemplate`,
  and `RecreateGroupOnPodRestart` (a multi-node engine cannot survive losing one pod).
  LeaderWorkerSet has one worker template, so an engine with two Worker members cannot be
  rendered and says so.
- Every member that claims devices gets one `resource.k8s.io/v1` ResourceClaimTemplate with
  one request per claimed device: its deviceClassName, `ExactCount` of `count`, and its CEL
  selectors verbatim. A template's `spec` is immutable, so its name ends with a digest of the
  spec: a changed request is a new template that the workload then names, and the driver
  prunes the old one. Synthetic devices never reach a replica's `deviceRequests` (the
  scheduler drops them), so they are never claimed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.labels import ENGINE_LABEL
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.grove import KAI_QUEUE_LABEL, KAI_SCHEDULER, pod_clique_set
from laneway.drivers.kubernetes.naming import claim_template_name, owner_labels, uses_leader_worker_set, workload_of
from laneway.drivers.kubernetes.pods import (
    LEADER_WORKER_SET,
    STANDALONE,
    GroupIdentity,
    PodPlacement,
    pod_template,
    selector_labels,
)
from laneway.drivers.kubernetes.prefill_decode import pod_extras
from laneway.drivers.kubernetes.settings import ClusterSettings


def claim_template(replica: ModelReplica, engine: ReplicaEngine, member: ReplicaMember, namespace: str) -> dict[str, Any] | None:
    """The member's ResourceClaimTemplate, or None when it claims no devices."""
    if not member.device_requests:
        return None
    requests = []
    for device in member.device_requests:
        exactly: dict[str, Any] = {
            "deviceClassName": device.device_class_name,
            "allocationMode": "ExactCount",
            "count": device.count,
        }
        if device.selectors:
            exactly["selectors"] = [{"cel": {"expression": s.cel}} for s in device.selectors]
        requests.append({"name": device.name, "exactly": exactly})
    # The claims Kubernetes makes from the template carry the replica's labels too, so the
    # driver finds them (and their allocation) by the same selector as everything else.
    spec = {"metadata": {"labels": owner_labels(replica)}, "spec": {"devices": {"requests": requests}}}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {
            "name": claim_template_name(replica, engine.name, member.role, digest),
            "namespace": namespace,
            "labels": {**owner_labels(replica), ENGINE_LABEL: engine.name},
        },
        "spec": spec,
    }


def _member(engine: ReplicaEngine, role: str) -> ReplicaMember | None:
    found = [m for m in engine.members if m.role == role]
    return found[0] if found else None


def placement_of(
    replica: ModelReplica, engine: ReplicaEngine, member: ReplicaMember, cluster: InferenceCluster, settings: ClusterSettings
) -> PodPlacement:
    """The member's node selector (its pinned pool's), and RDMA when the pool is on InfiniBand
    and the engine talks across nodes: a LeaderWorkerSet group (NCCL) or a prefill/decode
    engine (NIXL moves the KV cache between pods)."""
    if not member.node_pool_name:
        return PodPlacement(node_selector={}, scheduler_name=KAI_SCHEDULER if settings.stack == "Dynamo" else None)
    pool = next((p for p in cluster.spec.node_pools if p.name == member.node_pool_name), None)
    infiniband = pool is not None and pool.fabric is not None and pool.fabric.type == "InfiniBand"
    across_nodes = uses_leader_worker_set(engine) or (replica.spec.serving.mode == "PrefillDecode" and engine.phase is not None)
    dynamo = settings.stack == "Dynamo"
    return PodPlacement(
        node_selector=settings.pool_selector(member.node_pool_name),
        rdma=infiniband and across_nodes and bool(member.device_requests),
        scheduler_name=KAI_SCHEDULER if dynamo else None,
        labels={KAI_QUEUE_LABEL: settings.kai_queue} if dynamo else {},
    )


def engine_objects(
    replica: ModelReplica, engine: ReplicaEngine, namespace: str, *, cluster: InferenceCluster, settings: ClusterSettings
) -> list[dict[str, Any]]:
    """The claim templates and the Deployment or LeaderWorkerSet of one engine."""
    claims = {id(m): claim_template(replica, engine, m, namespace) for m in engine.members}
    out: list[dict[str, Any]] = [c for c in claims.values() if c is not None]

    def template(member: ReplicaMember, identity: GroupIdentity) -> dict[str, Any]:
        claim = claims[id(member)]
        return pod_template(
            replica, engine, member, identity=identity, claim_template=claim["metadata"]["name"] if claim else None,
            placement=placement_of(replica, engine, member, cluster, settings), extras=pod_extras(replica, engine, member),
        )

    kind, name = workload_of(replica, engine, stack=settings.stack)
    metadata = {
        "name": name,
        "namespace": namespace,
        "labels": {**owner_labels(replica), ENGINE_LABEL: engine.name},
    }
    standalone = _member(engine, "Standalone")
    if standalone is not None:
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": metadata,
                "spec": {
                    "replicas": engine.copies,
                    "selector": {"matchLabels": selector_labels(replica, engine.name)},
                    **(
                        {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}
                        if standalone.device_requests else {}
                    ),
                    "template": template(standalone, STANDALONE),
                },
            }
        )
        return out

    workers = [m for m in engine.members if m.role == "Worker"]
    leader = _member(engine, "Leader")
    if leader is None or len(workers) != 1:
        raise RenderError(
            f"engine {engine.name!r} of replica {replica.key} has {len(workers)} Worker members; a LeaderWorkerSet "
            "(or a Grove gang) has one worker template, so write one Worker member with worker.nodes set to the total "
            "number of worker pods"
        )
    worker = workers[0]
    if kind == "PodCliqueSet":
        out.append(pod_clique_set(replica, engine, leader=leader, worker=worker, metadata=metadata, queue=settings.kai_queue, template=template))
        return out
    out.append(
        {
            "apiVersion": "leaderworkerset.x-k8s.io/v1",
            "kind": "LeaderWorkerSet",
            "metadata": metadata,
            "spec": {
                "replicas": engine.copies,
                "startupPolicy": "LeaderCreated",
                "leaderWorkerTemplate": {
                    "size": 1 + worker.pods,
                    "restartPolicy": "RecreateGroupOnPodRestart",
                    "leaderTemplate": template(leader, LEADER_WORKER_SET),
                    "workerTemplate": template(worker, LEADER_WORKER_SET),
                },
            },
        }
    )
    return out
