"""A Leader/Worker engine on a `stack: Dynamo` cluster: one Grove PodCliqueSet, gang-scheduled by
the KAI Scheduler, as Modelplane 0.4's Dynamo stack runs it.

- The PodCliqueSet's `replicas` are the engine's copies: each PodCliqueSet replica is one group
  (a leader and `worker.nodes` workers), one PodGang that the KAI Scheduler places all at
  once or not at all, with its own headless Service `<set>-<replica>` (Grove's).
- The leader is the clique `leader`; each worker is a clique of its own, `worker-<rank>`, one
  pod each. Grove numbers the pods of a clique from 0, and Kubernetes cannot add 1 to a
  label, so a clique per rank is how every worker knows its rank (1..N) as a plain value,
  as LeaderWorkerSet's worker index gives it. The cliques start in order (leader first).
- Grove puts `GROVE_PCS_NAME`, `GROVE_PCS_INDEX` and `GROVE_HEADLESS_SERVICE` at the front of
  every container's env and names each pod's host `<clique>-<index>` in the group's
  subdomain, so `LANEWAY_LEADER_ADDRESS` is
  `$(GROVE_PCS_NAME)-$(GROVE_PCS_INDEX)-leader-0.$(GROVE_HEADLESS_SERVICE)`, resolved by
  Kubernetes from variables defined earlier in the list.
- Pods run under `schedulerName: kai-scheduler` in the cluster's KAI queue
  (`kai.scheduler/queue`, on the set and on every clique).
- Grove's admission refuses a set whose name and longest clique name exceed 45 characters
  together (its pods' names are built from them), so the set's name is bounded to fit
  (`naming.workload_of`).

Validated against Grove's PodCliqueSet CRD (bundled under `schemas/`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.drivers.kubernetes.naming import LEADER_CLIQUE, worker_clique
from laneway.drivers.kubernetes.pods import GroupIdentity

GROVE_API = "grove.io/v1alpha1"
KAI_SCHEDULER = "kai-scheduler"
KAI_QUEUE_LABEL = "kai.scheduler/queue"
LEADER_ADDRESS = "$(GROVE_PCS_NAME)-$(GROVE_PCS_INDEX)-leader-0.$(GROVE_HEADLESS_SERVICE)"

Template = Callable[[ReplicaMember, GroupIdentity], dict[str, Any]]


def grove_identity(rank: int) -> GroupIdentity:
    """Rank as a value (one clique per rank), the leader through the group's headless Service."""
    return GroupIdentity({"value": str(rank)}, {"value": LEADER_ADDRESS})


def _clique(name: str, role: str, template: dict[str, Any], queue: str) -> dict[str, Any]:
    meta = template.get("metadata") or {}
    clique: dict[str, Any] = {"name": name, "labels": {**meta.get("labels", {}), KAI_QUEUE_LABEL: queue}}
    if meta.get("annotations"):
        clique["annotations"] = dict(meta["annotations"])
    clique["spec"] = {"roleName": role, "replicas": 1, "minAvailable": 1, "podSpec": template["spec"]}
    return clique


def pod_clique_set(
    replica: ModelReplica,
    engine: ReplicaEngine,
    *,
    leader: ReplicaMember,
    worker: ReplicaMember,
    metadata: dict[str, Any],
    queue: str,
    template: Template,
) -> dict[str, Any]:
    """The PodCliqueSet of one Leader/Worker engine (`template` renders a member's pod template)."""
    cliques = [_clique(LEADER_CLIQUE, "leader", template(leader, grove_identity(0)), queue)]
    for rank in range(1, worker.pods + 1):
        cliques.append(_clique(worker_clique(rank), "worker", template(worker, grove_identity(rank)), queue))
    return {
        "apiVersion": GROVE_API,
        "kind": "PodCliqueSet",
        "metadata": {**metadata, "labels": {**metadata["labels"], KAI_QUEUE_LABEL: queue}},
        "spec": {
            "replicas": engine.copies,
            "template": {
                "cliqueStartupType": "CliqueStartupTypeInOrder",
                "headlessServiceConfig": {"publishNotReadyAddresses": True},
                "cliques": cliques,
            },
        },
    }
