"""Which serving stack a cluster asks for (`InferenceCluster.spec.stack`), and what laneway composes.

Modelplane 0.4 lets a cluster choose `Standard` (the default: Deployments or LeaderWorkerSets,
the Gateway API and the endpoint picker, which is what laneway renders) or `Dynamo` (NVIDIA
Dynamo: Leader/Worker gangs as Grove PodCliqueSets scheduled by the KAI Scheduler, cached
weights distributed by ModelExpress). laneway does not compose Dynamo yet. Rendering the
Standard objects on a cluster that asked for Dynamo would run the wrong stack in silence, so
such a cluster is refused instead: every replica's Ready condition (reason
`StackNotComposed`) and the cluster's own Ready condition name what is missing.
"""

from __future__ import annotations

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.kubernetes.errors import StackNotComposed
from laneway.drivers.kubernetes.settings import ClusterSettings, cluster_settings

DYNAMO_NOT_COMPOSED = (
    "Grove PodCliqueSets for Leader/Worker gangs, KAI Scheduler queues, and ModelExpress weight distribution "
    "(its environment and IPC_LOCK on cached engines)"
)


def stack_refusal(cluster: InferenceCluster, settings: ClusterSettings | None = None) -> str | None:
    """Why laneway cannot run replicas on this cluster's stack, or None when it can."""
    stack = (settings or cluster_settings(cluster)).stack
    if stack == "Standard":
        return None
    return (
        f"InferenceCluster {cluster.name} asks for spec.stack: {stack}; laneway composes only the Standard stack "
        f"(Deployments or LeaderWorkerSets, Gateway API routes, the endpoint picker). Not composed: {DYNAMO_NOT_COMPOSED}. "
        "Set spec.stack: Standard (or remove it) to run laneway's Standard objects on this cluster"
    )


def check_stack(replica: ModelReplica, cluster: InferenceCluster, settings: ClusterSettings) -> None:
    """Raise StackNotComposed when the replica's cluster asks for a stack laneway does not compose."""
    refusal = stack_refusal(cluster, settings)
    if refusal is not None:
        raise StackNotComposed(f"replica {replica.key} is not rendered: {refusal}")
