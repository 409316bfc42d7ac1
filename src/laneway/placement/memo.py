"""Reuse, across re-plans, what the scheduler reads from objects that did not change.

A live control plane re-plans a few deployments at a time against a fleet of thousands of
clusters and replicas that mostly did not change since the last pass. Turning every cluster
into its view and every replica into what it occupies again each time is most of such a
pass. `PlanMemo` keeps those readings keyed by the object's identity and `resourceVersion`
(and, for a replica, the classes of its cluster's pools): a changed object is read again,
an unchanged one is not. Objects without a resourceVersion (manifests given to
`laneway plan`) are always read. It only remembers what the last pass saw, so it never grows
past the fleet.

The answer is the same with or without it: it caches pure functions of their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.placement.dra.matcher import DeviceMatcher
from laneway.placement.existing import ExistingReplica, existing_replica
from laneway.placement.fleet import (
    ClassView,
    ClusterView,
    Fleet,
    class_view,
    cluster_view,
)

_ReplicaKey = tuple[str, str, str, tuple[tuple[str, str], ...] | None]


class PlanMemo:
    def __init__(self) -> None:
        self._classes: dict[tuple[str, str], ClassView] = {}
        self._clusters: dict[tuple[str, str, int], ClusterView] = {}
        self._class_stamps: dict[tuple[tuple[str, str], ...], int] = {}
        self._replicas: dict[_ReplicaKey, ExistingReplica] = {}

    def fleet(self, clusters: Sequence[InferenceCluster], classes: Sequence[InferenceClass]) -> Fleet:
        class_views: dict[str, ClassView] = {}
        seen_classes: dict[tuple[str, str], ClassView] = {}
        for c in classes:
            version = c.metadata.resource_version
            key = (c.name, version or "")
            view = self._classes.get(key) if version else None
            if view is None:
                view = class_view(c)
            if version:
                seen_classes[key] = view
            class_views[c.name] = view
        # A cluster's view depends on the classes its pools name: any change to the set of
        # classes gives every cluster a new key (classes change rarely; clusters often).
        stamp_of = tuple(sorted((name, v.key) for name, v in class_views.items()))
        stamp = self._class_stamps.setdefault(stamp_of, len(self._class_stamps))
        if len(self._class_stamps) > 64:
            self._class_stamps = {stamp_of: stamp}
        views = []
        seen_clusters: dict[tuple[str, str, int], ClusterView] = {}
        for cluster in clusters:
            cluster_version = cluster.metadata.resource_version
            cluster_key = (cluster.name, cluster_version or "", stamp)
            cview = self._clusters.get(cluster_key) if cluster_version else None
            if cview is None:
                cview = cluster_view(cluster, class_views)
            if cluster_version:
                seen_clusters[cluster_key] = cview
            views.append(cview)
        self._classes, self._clusters = seen_classes, seen_clusters
        return Fleet.of_views(views, class_views)

    def existing(self, replicas: Sequence[ModelReplica], fleet: Fleet, matcher: DeviceMatcher) -> list[ExistingReplica]:
        signatures: dict[str, tuple[tuple[str, str], ...] | None] = {}
        out = []
        seen: dict[_ReplicaKey, ExistingReplica] = {}
        for r in replicas:
            meta = r.metadata
            version = meta.resource_version
            if not version:
                out.append(existing_replica(r, fleet, matcher))
                continue
            home = r.spec.cluster_name
            if home not in signatures:
                view = fleet.by_name.get(home)
                signatures[home] = view.pools_signature if view is not None else None
            key: _ReplicaKey = (meta.namespace or "", meta.name, version, signatures[home])
            reading = self._replicas.get(key)
            if reading is None:
                reading = existing_replica(r, fleet, matcher)
            seen[key] = reading
            out.append(reading)
        self._replicas = seen
        return out
