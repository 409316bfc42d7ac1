"""Where a deployment that references a ModelCache may run, and when its replicas may start.

Two rules, as pure functions of the objects involved:
- placement: a deployment with `modelCacheRef` is placed only on clusters the cache's
  `clusterSelector` matches (the clusters where the cache exists or is being staged); a
  missing cache means no cluster, and the reason says to create it;
- start: a replica on cluster X starts only once the cache is Ready on X; until then its
  status says "waiting for cache <name> on cluster X" with the cache's state there.

The thin store-reading wrappers at the bottom are what the ModelDeployment and ModelReplica
controllers call; the rules themselves never touch the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from laneway.api.kinds.cache import ClusterCacheStatus, ModelCache
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import ObjectKey, Resource
from laneway.placement.model import ScheduledCondition
from laneway.store.base import Store


def cache_selects(cache: ModelCache, cluster: InferenceCluster) -> bool:
    return cache.spec.cluster_selector.matches(cluster.metadata.labels)


def clusters_needing(cache: ModelCache, replicas: Iterable[Resource]) -> set[str]:
    """The clusters where a live replica of the cache's namespace references it (pure)."""
    out: set[str] = set()
    for r in replicas:
        if not isinstance(r, ModelReplica) or r.namespace != cache.namespace or r.metadata.deletion_timestamp:
            continue
        ref = r.spec.model_cache_ref
        if ref is not None and ref.name == cache.name and r.spec.cluster_name:
            out.add(r.spec.cluster_name)
    return out


def staging_clusters(cache: ModelCache, selected: Sequence[InferenceCluster], needed: set[str]) -> list[InferenceCluster]:
    """Of the clusters the selector matches, those the cache is staged on (pure): every one with
    `stageAhead`; else those a placed replica needs, and those already holding (or writing) a
    copy, which stays until the cache is deleted or the selector lets the cluster go.

    Why: a cache applied on its own (an example, a plan for later) must not start downloads of
    tens of GiB onto every cluster of a machine.
    """
    if cache.spec.stage_ahead:
        return list(selected)
    holding = {e.cluster for e in cache.status.clusters if e.state in ("Ready", "Hydrating")}
    return [c for c in selected if c.name in needed or c.name in holding]


def cluster_status(cache: ModelCache, cluster: str) -> ClusterCacheStatus | None:
    for entry in cache.status.clusters:
        if entry.cluster == cluster:
            return entry
    return None


@dataclass(frozen=True)
class PlacementGate:
    """The clusters the scheduler may consider, and why others were left out (None: none were)."""

    clusters: list[InferenceCluster]
    reason: str | None = None

    def explain(self, condition: ScheduledCondition) -> ScheduledCondition:
        """The scheduler's condition, with the cache named when it is what kept replicas out."""
        if self.reason is None or condition.status == "True":
            return condition
        return ScheduledCondition(condition.status, condition.reason, f"{condition.message.rstrip(': ')}; {self.reason}")


def placement_gate(deployment: ModelDeployment, clusters: Sequence[InferenceCluster], cache: ModelCache | None) -> PlacementGate:
    ref = deployment.spec.template.spec.model_cache_ref
    if ref is None:
        return PlacementGate(list(clusters))
    if cache is None or cache.metadata.deletion_timestamp:
        return PlacementGate(
            [], f"modelCacheRef names ModelCache {ref.name!r}, which does not exist in namespace {deployment.namespace!r}: create it or remove modelCacheRef"
        )
    kept = [c for c in clusters if cache_selects(cache, c)]
    left = len(clusters) - len(kept)
    if not left:
        return PlacementGate(kept)
    return PlacementGate(
        kept,
        f"{left} cluster(s) left out because ModelCache {ref.name!r} is not staged there (its clusterSelector does not match them); "
        "widen the cache's clusterSelector to place there",
    )


WAITING_FOR_CACHE = "WaitingForCache"
"""The Ready reason of a replica whose engines wait for its ModelCache (and, passed on, of its
deployment's ReplicasReady)."""


def start_wait(replica: ModelReplica, cache: ModelCache | None) -> str | None:
    """Why the replica may not start yet, or None when it may."""
    ref = replica.spec.model_cache_ref
    if ref is None:
        return None
    cluster = replica.spec.cluster_name
    if cache is None:
        return f"waiting for cache {ref.name} on cluster {cluster}: ModelCache {ref.name!r} does not exist in namespace {replica.namespace!r}"
    entry = cluster_status(cache, cluster)
    if entry is not None and entry.state == "Ready":
        return None
    if entry is None:
        return f"waiting for cache {ref.name} on cluster {cluster} (not started there yet)"
    detail: str = entry.state
    if entry.state == "Hydrating" and entry.bytes is not None:
        detail += f", {entry.bytes} bytes so far"
    if entry.message:
        detail += f": {entry.message}"
    return f"waiting for cache {ref.name} on cluster {cluster} ({detail})"


# --- store-reading wrappers ----------------------------------------------------------------


def get_cache(store: Store, namespace: str, name: str) -> ModelCache | None:
    return store.find(ModelCache, ObjectKey(namespace, name))


def placement_gate_for(store: Store, deployment: ModelDeployment, clusters: Sequence[InferenceCluster]) -> PlacementGate:
    ref = deployment.spec.template.spec.model_cache_ref
    cache = get_cache(store, deployment.namespace, ref.name) if ref is not None else None
    return placement_gate(deployment, clusters, cache)


def start_wait_for(store: Store, replica: ModelReplica) -> str | None:
    ref = replica.spec.model_cache_ref
    if ref is None:
        return None
    return start_wait(replica, get_cache(store, replica.namespace, ref.name))


def users_of(cache: ModelCache, deployments: Iterable[Resource]) -> list[ModelDeployment]:
    """Deployments in the cache's namespace that reference it (deletion refuses while any do)."""
    out = []
    for d in deployments:
        if not isinstance(d, ModelDeployment) or d.namespace != cache.namespace or d.metadata.deletion_timestamp:
            continue
        ref = d.spec.template.spec.model_cache_ref
        if ref is not None and ref.name == cache.name:
            out.append(d)
    return out


def replicas_using_cache(store: Store) -> Callable[[Resource], list[ObjectKey]]:
    """A `watches` mapper: a changed ModelCache queues the replicas that reference it."""

    def keys(cache: Resource) -> list[ObjectKey]:
        return [
            r.key
            for r in store.list(ModelReplica, namespace=cache.namespace).items
            if r.spec.model_cache_ref is not None and r.spec.model_cache_ref.name == cache.name
        ]

    return keys


def deployments_using_cache(store: Store) -> Callable[[Resource], list[ObjectKey]]:
    """A `watches` mapper: a changed ModelCache queues the deployments that reference it."""

    def keys(cache: Resource) -> list[ObjectKey]:
        if not isinstance(cache, ModelCache):
            return []
        return [d.key for d in users_of(cache, store.list(ModelDeployment, namespace=cache.namespace).items)]

    return keys
