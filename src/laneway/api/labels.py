"""The labels laneway stamps on what it composes, spelled once.

They tie every composed object to what it came from: a ModelReplica to its deployment and
index, a ModelEndpoint to its replica and cluster, a Kubernetes object to all of them. A
ModelService selects a deployment's endpoints by `laneway.dev/deployment`.
"""

from __future__ import annotations

from laneway.api.meta import LABEL_PREFIX

DEPLOYMENT_LABEL = LABEL_PREFIX + "deployment"
REPLICA_LABEL = LABEL_PREFIX + "replica"
REPLICA_INDEX_LABEL = LABEL_PREFIX + "replica-index"
CLUSTER_LABEL = LABEL_PREFIX + "cluster"

REPLACES_ANNOTATION = LABEL_PREFIX + "replaces"
"""On a ModelReplica placed to stand in for one on a lost cluster: the name of that replica."""
