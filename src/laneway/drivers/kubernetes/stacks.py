"""Which serving stack a cluster asks for (`InferenceCluster.spec.stack`), and what laneway composes of it.

Modelplane 0.4 lets a cluster choose `Standard` (the default: Deployments or LeaderWorkerSets,
the Gateway API and the endpoint picker) or `Dynamo` (NVIDIA Dynamo's: Leader/Worker gangs as
Grove PodCliqueSets scheduled by the KAI Scheduler, cached weights distributed by
ModelExpress). laneway renders both; of Dynamo it composes the Grove gangs (`grove.py`) and
KAI scheduling of every engine pod, and not ModelExpress: cached engines on a Dynamo cluster
read their weights from the ModelCache's ReadWriteMany claim, as on a Standard cluster. That
gap is never silent: the cluster's Ready condition and `laneway cluster check` say it.
"""

from __future__ import annotations

from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.kubernetes.settings import ClusterSettings, cluster_settings

DYNAMO_NOT_COMPOSED = (
    "ModelExpress is not composed (no ModelExpress environment or IPC_LOCK on cached engines): cached engines read "
    "their weights from the ModelCache's ReadWriteMany claim"
)
# The APIs a Dynamo cluster must serve for what laneway renders there.
DYNAMO_APIS = ("grove.io/v1alpha1", "scheduling.run.ai/v2")


def stack_note(cluster: InferenceCluster, settings: ClusterSettings | None = None) -> str | None:
    """What laneway composes of the cluster's stack and what it does not, or None for Standard."""
    chosen = settings or cluster_settings(cluster)
    if chosen.stack == "Standard":
        return None
    return (
        f"stack Dynamo: Leader/Worker engines run as Grove PodCliqueSets, every engine pod is scheduled by the KAI "
        f"Scheduler in queue {chosen.kai_queue}; {DYNAMO_NOT_COMPOSED}"
    )


def required_apis(stack: str) -> tuple[str, ...]:
    return DYNAMO_APIS if stack == "Dynamo" else ()
