"""From a placement to the objects it stands for: ModelReplica documents and the plan JSON."""

from __future__ import annotations

from typing import Any

from laneway.api.kinds.deployment import (
    CelSelector,
    ClaimedDevice,
    ModelDeployment,
    ModelReplica,
)
from laneway.api.labels import (
    DEPLOYMENT_LABEL,
    REPLACES_ANNOTATION,
    REPLICA_INDEX_LABEL,
)
from laneway.api.meta import ObjectMeta
from laneway.placement.model import Placement, ReplicaPlacement

INDEX_LABEL = REPLICA_INDEX_LABEL


def replica_name(deployment: str, index: int) -> str:
    return f"{deployment}-{index}"


def compose_replica(deployment: ModelDeployment, placed: ReplicaPlacement) -> ModelReplica:
    """The ModelReplica for one placed replica: the deployment's template pinned to its cluster and pools."""
    template = deployment.spec.template
    spec = template.spec
    engines = []
    by_name = {e.name: e for e in placed.engines}
    for engine in spec.engines:
        pinned = by_name[engine.name]
        members = []
        for member, mp in zip(engine.members, pinned.members):
            doc = member.model_dump(by_alias=True, exclude_none=True)
            doc["nodePoolName"] = mp.pool
            doc["deviceRequests"] = [
                ClaimedDevice(
                    name=c.name, device_class_name=c.device_class_name, count=c.count, selectors=[CelSelector(cel=s) for s in c.selectors]
                ).model_dump(by_alias=True, exclude_none=True)
                for c in mp.device_requests
            ]
            members.append(doc)
        edoc = engine.model_dump(by_alias=True, exclude_none=True)
        edoc["members"] = members
        engines.append(edoc)
    labels = {**template.metadata.labels, DEPLOYMENT_LABEL: deployment.name, INDEX_LABEL: str(placed.index)}
    annotations = dict(template.metadata.annotations)
    if placed.replaces:
        annotations[REPLACES_ANNOTATION] = placed.replaces
    owner = [deployment.owner_reference()] if deployment.metadata.uid else []
    return ModelReplica.model_validate(
        {
            "metadata": ObjectMeta(
                name=placed.name or replica_name(deployment.name, placed.index),
                namespace=deployment.namespace or None,
                labels=labels,
                annotations=annotations,
                owner_references=owner,
            ).model_dump(by_alias=True, exclude_none=True),
            "spec": {
                "clusterName": placed.cluster,
                "clusterSelector": spec.cluster_selector.model_dump(by_alias=True, exclude_none=True),
                **({"modelCacheRef": spec.model_cache_ref.model_dump(by_alias=True)} if spec.model_cache_ref else {}),
                "serving": spec.serving.model_dump(by_alias=True),
                "tolerations": [t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations],
                "engines": engines,
            },
        }
    )


def placement_json(placement: Placement) -> dict[str, Any]:
    """One deployment's entry of `laneway plan -o json` (documented in docs/reference/plan-json.md)."""
    c = placement.condition
    return {
        "namespace": placement.deployment.namespace,
        "name": placement.deployment.name,
        "wanted": placement.wanted,
        "replicas": [
            {
                "index": r.index,
                "name": r.name,
                "cluster": r.cluster,
                "retained": r.retained,
                "engines": [
                    {
                        "name": e.name,
                        "pool": e.pool,
                        "members": [
                            {
                                "role": m.role,
                                "pool": m.pool,
                                "deviceRequests": [
                                    {"name": d.name, "deviceClassName": d.device_class_name, "count": d.count, "selectors": [{"cel": s} for s in d.selectors]}
                                    for d in m.device_requests
                                ],
                            }
                            for m in e.members
                        ],
                    }
                    for e in r.engines
                ],
            }
            for r in placement.replicas
        ],
        "removed": list(placement.removed),
        "removedReplicas": list(placement.removed_names),
        "stranded": list(placement.stranded),
        "conditions": [{"type": "ReplicasScheduled", "status": c.status, "reason": c.reason, "message": c.message}],
        "reasons": [r.text() for r in placement.reasons],
    }
