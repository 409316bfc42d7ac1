"""The workload objects of one engine: a Deployment or a LeaderWorkerSet, and its claims.

- A Standalone engine is a Deployment with `replicas` = the engine's copies.
- A Leader/Worker engine is a LeaderWorkerSet: `replicas` = copies, group `size` =
  1 + worker.nodes, the Leader member as `leaderTemplate` and the Worker as `workerTemplate`,
  and `RecreateGroupOnPodRestart` (a multi-node engine cannot survive losing one pod).
  LeaderWorkerSet has one worker template, so an engine with two Worker members cannot be
  rendered and says so.
- Every member that claims devices gets one `resource.k8s.io/v1` ResourceClaimTemplate with
  one request per claimed device: its deviceClassName, `ExactCount` of `count`, and its CEL
  selectors verbatim. Synthetic devices never reach a replica's `deviceRequests` (the
  scheduler drops them), so they are never claimed.
"""

from __future__ import annotations

from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import claim_template_name, owner_labels, workload_name
from laneway.drivers.kubernetes.pods import ENGINE_LABEL, pod_template, selector_labels


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
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {
            "name": claim_template_name(replica, engine.name, member.role),
            "namespace": namespace,
            "labels": {**owner_labels(replica), ENGINE_LABEL: engine.name},
        },
        # The claims Kubernetes makes from the template carry the replica's labels too, so the
        # driver finds them (and their allocation) by the same selector as everything else.
        "spec": {"metadata": {"labels": owner_labels(replica)}, "spec": {"devices": {"requests": requests}}},
    }


def _member(engine: ReplicaEngine, role: str) -> ReplicaMember | None:
    found = [m for m in engine.members if m.role == role]
    return found[0] if found else None


def engine_objects(replica: ModelReplica, engine: ReplicaEngine, namespace: str) -> list[dict[str, Any]]:
    """The claim templates and the Deployment or LeaderWorkerSet of one engine."""
    claims = {id(m): claim_template(replica, engine, m, namespace) for m in engine.members}
    out: list[dict[str, Any]] = [c for c in claims.values() if c is not None]

    def template(member: ReplicaMember, *, leader_worker: bool) -> dict[str, Any]:
        claim = claims[id(member)]
        return pod_template(
            replica, engine, member, leader_worker=leader_worker, claim_template=claim["metadata"]["name"] if claim else None
        )

    metadata = {
        "name": workload_name(replica, engine.name),
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
                    "template": template(standalone, leader_worker=False),
                },
            }
        )
        return out

    workers = [m for m in engine.members if m.role == "Worker"]
    leader = _member(engine, "Leader")
    if leader is None or len(workers) != 1:
        raise RenderError(
            f"engine {engine.name!r} of replica {replica.key} has {len(workers)} Worker members; a LeaderWorkerSet "
            "has one worker template, so write one Worker member with worker.nodes set to the total number of worker pods"
        )
    worker = workers[0]
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
                    "leaderTemplate": template(leader, leader_worker=True),
                    "workerTemplate": template(worker, leader_worker=True),
                },
            },
        }
    )
    return out
