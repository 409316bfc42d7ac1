"""Builders for a small fleet in a store, for tests: Local clusters, a class, deployments, caches."""

from __future__ import annotations

from typing import Any

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import GatewayEgress, InferenceClass, InferenceCluster, InferenceGateway
from laneway.api.meta import Condition
from laneway.egress.policy import EgressPolicy
from laneway.store.base import Store

LOOPBACK_EGRESS: dict[str, Any] = {"allow": [{"cidr": "127.0.0.0/8"}]}
"""The door a test fleet opens for its servers on 127.0.0.1 (the platform's choice, explicitly)."""


def add_gateway(store: Store, name: str = "front-door", *, egress: dict[str, Any] | None = None) -> InferenceGateway:
    """An InferenceGateway whose egress policy opens loopback (or `egress`), as a test's platform would."""
    doc = {"metadata": {"name": name}, "spec": {"egress": LOOPBACK_EGRESS if egress is None else egress}}
    return store.create(InferenceGateway.model_validate(doc))


def loopback_policy() -> EgressPolicy:
    """The egress policy of a fleet that opened loopback, for tests that call a source directly."""
    return EgressPolicy.from_specs([("test", GatewayEgress.model_validate(LOOPBACK_EGRESS))])


def add_class(store: Store) -> None:
    store.create(
        InferenceClass.model_validate(
            {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 4}]}}
        )
    )


def add_cluster(store: Store, name: str, labels: dict[str, str], *, source: str = "Local") -> InferenceCluster:
    block: dict[str, Any] = {"source": source, "local": {}} if source == "Local" else {"source": source, "existing": {"secretRef": {"name": "kc", "key": "kubeconfig"}}}
    created = store.create(
        InferenceCluster.model_validate(
            {"metadata": {"name": name, "labels": labels}, "spec": {"cluster": block, "nodePools": [{"name": "p", "className": "cpu", "nodeCount": 4}]}}
        )
    )
    status = created.status.model_copy(
        update={
            "conditions": [Condition(type="Ready", status="True", reason="Ready")],
            "gateway": created.status.gateway.model_copy(update={"address": "http://127.0.0.1:1"}),
        }
    )
    return store.update_status(created.model_copy(update={"status": status}))


def add_cache(store: Store, name: str, spec: dict[str, Any], namespace: str = "ml") -> ModelCache:
    return store.create(ModelCache.model_validate({"metadata": {"name": name, "namespace": namespace}, "spec": spec}))


def deployment_doc(name: str, *, replicas: int = 1, cache: str | None = None, autoscaling: dict[str, Any] | None = None,
                   labels: dict[str, str] | None = None, namespace: str = "ml") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "engines": [
            {
                "name": "main",
                "members": [
                    {
                        "nodeSelector": {"devices": [{"name": "cpu", "selectors": [{"cel": "true"}]}]},
                        "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/sim", "command": ["laneway", "engine", "sim"]}]}},
                    }
                ],
            }
        ]
    }
    if cache:
        spec["modelCacheRef"] = {"name": cache}
    doc: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels or {"app": name}}, "spec": spec}},
    }
    if autoscaling is not None:
        doc["spec"]["autoscaling"] = autoscaling
    return doc


def add_deployment(store: Store, name: str, **kw: Any) -> ModelDeployment:
    return store.create(ModelDeployment.model_validate(deployment_doc(name, **kw)))
