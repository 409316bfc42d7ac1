"""The fleet a ticket is checked against: clusters, classes, running replicas, gateways.

Built from manifests (`laneway ticket check -f fleet.yaml`, offline) or from the store (the
ticket controller, online); the checks read only this record, so both paths check alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from laneway.api.kinds import InferenceClass, InferenceCluster, InferenceGateway, ModelReplica
from laneway.api.meta import Resource
from laneway.store.base import Store


@dataclass(frozen=True)
class FleetSnapshot:
    clusters: tuple[InferenceCluster, ...] = ()
    classes: tuple[InferenceClass, ...] = ()
    replicas: tuple[ModelReplica, ...] = ()
    gateways: tuple[InferenceGateway, ...] = ()

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> "FleetSnapshot":
        items = list(resources)
        return cls(
            clusters=tuple(r for r in items if isinstance(r, InferenceCluster)),
            classes=tuple(r for r in items if isinstance(r, InferenceClass)),
            replicas=tuple(r for r in items if isinstance(r, ModelReplica)),
            gateways=tuple(r for r in items if isinstance(r, InferenceGateway)),
        )

    @classmethod
    def from_store(cls, store: Store) -> "FleetSnapshot":
        """One listing of each kind the checks read (blocking; cheap at fleet sizes)."""
        return cls.of(
            [
                *store.list(InferenceCluster).items,
                *store.list(InferenceClass).items,
                *store.list(ModelReplica).items,
                *store.list(InferenceGateway).items,
            ]
        )

    def with_clusters(self, clusters: Sequence[InferenceCluster]) -> "FleetSnapshot":
        return FleetSnapshot(tuple(clusters), self.classes, self.replicas, self.gateways)
