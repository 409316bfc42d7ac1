"""The fleet a ticket is checked against: clusters, classes, running replicas, gateways, and
(online only) the Secrets a vouched provider's key may be in and the services and deployments
whose measured figures the scaling row reads.

Built from manifests (`laneway ticket check -f fleet.yaml`, offline) or from the store (the
ticket controller, online); the checks read only this record, so both paths check alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from laneway.api.kinds import (
    InferenceClass,
    InferenceCluster,
    InferenceGateway,
    ModelDeployment,
    ModelReplica,
    ModelService,
)
from laneway.api.kinds.secret import Secret
from laneway.api.meta import Resource
from laneway.store.base import Store


@dataclass(frozen=True)
class FleetSnapshot:
    clusters: tuple[InferenceCluster, ...] = ()
    classes: tuple[InferenceClass, ...] = ()
    replicas: tuple[ModelReplica, ...] = ()
    gateways: tuple[InferenceGateway, ...] = ()
    secrets: tuple[Secret, ...] | None = None
    """None when unknown (an offline check): the provider key is then not checked."""
    services: tuple[ModelService, ...] | None = None
    deployments: tuple[ModelDeployment, ...] | None = None
    """None when unknown (an offline check): nothing the fleet measured is then read (the
    scaling row's measured concurrency comes from a ticket's own service and deployment)."""

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> FleetSnapshot:
        items = list(resources)
        return cls(
            clusters=tuple(r for r in items if isinstance(r, InferenceCluster)),
            classes=tuple(r for r in items if isinstance(r, InferenceClass)),
            replicas=tuple(r for r in items if isinstance(r, ModelReplica)),
            gateways=tuple(r for r in items if isinstance(r, InferenceGateway)),
        )

    @classmethod
    def from_store(cls, store: Store) -> FleetSnapshot:
        """One listing of each kind the checks read (blocking; cheap at fleet sizes)."""
        fleet = cls.of(
            [
                *store.list(InferenceCluster).items,
                *store.list(InferenceClass).items,
                *store.list(ModelReplica).items,
                *store.list(InferenceGateway).items,
            ]
        )
        return replace(
            fleet,
            secrets=tuple(store.list(Secret).items),
            services=tuple(store.list(ModelService).items),
            deployments=tuple(store.list(ModelDeployment).items),
        )

    def with_clusters(self, clusters: Sequence[InferenceCluster]) -> FleetSnapshot:
        return replace(self, clusters=tuple(clusters))

    def secret(self, namespace: str, name: str) -> Secret | None:
        for s in self.secrets or ():
            if s.namespace == namespace and s.name == name:
                return s
        return None
