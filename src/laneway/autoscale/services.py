"""Which ModelServices front a deployment: pure, from labels.

A service fronts a deployment when one of its Primary entries' selectors would match the
deployment's endpoints. At zero replicas there are no endpoints to look at, so the labels an
endpoint of this deployment would carry on each cluster are used as well: the template's
labels, `laneway.dev/deployment`, `laneway.dev/cluster` and the cluster's own labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import CLUSTER_LABEL, DEPLOYMENT_LABEL
from laneway.api.meta import ObjectKey


def endpoint_label_sets(deployment: ModelDeployment, clusters: Iterable[InferenceCluster], endpoints: Iterable[ModelEndpoint]) -> list[Mapping[str, str]]:
    own = {**deployment.spec.template.metadata.labels, DEPLOYMENT_LABEL: deployment.name}
    sets: list[Mapping[str, str]] = [own]
    sets += [{**c.metadata.labels, **own, CLUSTER_LABEL: c.name} for c in clusters]
    sets += [
        e.metadata.labels for e in endpoints
        if e.namespace == deployment.namespace and e.metadata.labels.get(DEPLOYMENT_LABEL) == deployment.name
    ]
    return sets


def fronts(service: ModelService, label_sets: Sequence[Mapping[str, str]]) -> bool:
    return any(
        entry.tier == "Primary" and entry.selector.matches(labels)
        for entry in service.spec.endpoints
        for labels in label_sets
    )


def services_for(
    deployment: ModelDeployment,
    services: Iterable[ModelService],
    clusters: Iterable[InferenceCluster],
    endpoints: Iterable[ModelEndpoint] = (),
) -> list[ObjectKey]:
    sets = endpoint_label_sets(deployment, list(clusters), list(endpoints))
    return [s.key for s in services if s.namespace == deployment.namespace and not s.metadata.deletion_timestamp and fronts(s, sets)]
