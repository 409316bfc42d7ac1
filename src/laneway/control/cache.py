"""The ModelCache controller: stages weights on the clusters a cache selects, when needed.

A cache is staged on a cluster its `clusterSelector` matches only once a replica placed there
references it (or ahead, on every selected cluster, with `spec.stageAhead`); a copy already
there stays. For each cluster it is staged on, it reports one entry in
`status.clusters`: Pending, Hydrating (with `bytes` staged so far), Ready (with the cache's
size) or Failed (with the reason; retried after `retry_after` seconds).

How a cluster stages a cache is its driver's business (the `CacheStager` capability in
`laneway.drivers.base`): a Local cluster's driver writes files under the data directory
(`laneway.drivers.local.caches`), a Kubernetes cluster's driver applies a claim and a
hydration Job (`laneway.drivers.kubernetes.cache_render`). The controller only resolves the
source and its credential (a missing Secret fails every cluster alike), asks each cluster's
stager to apply and observe, writes what they report, and polls while anything is in flight.
A source whose stager runs without a driver in this process (Local files, for a control plane
started without drivers) is staged by a stager of its own, from `standalone_stagers`.

A finalizer makes deleting a cache remove every cluster's copy first; a cluster the selector
stops matching loses its copy the same way, and a copy that cannot be removed now is tried
again on later reconciles. Deleting a cache that a deployment still references is refused
earlier, by the API server.

What the team wrote is fetched only through the platform's doors: every connection of a
source is judged by the egress policy of the fleet's InferenceGateways (handed to each
stager), a platform-written credential Secret is used only for the hosts it names
(`laneway.egress.destinations`), and a Local source is read only under the cluster's
`spec.cluster.local.cacheRoots`. Each refusal is a Failed entry whose message starts with its
reason (EgressRefused, OutsideCacheRoots) and says what the platform would change; the Ready
condition carries that reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from laneway.api.kinds.cache import ClusterCacheStatus, ModelCache
from laneway.api.kinds.common import SecretKeyRef
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.meta import LABEL_PREFIX, ObjectKey, Resource, rfc3339
from laneway.cache.errors import (
    CacheError,
    EgressDenied,
    InsufficientDisk,
    OutsideCacheRoots,
)
from laneway.cache.gate import cache_selects, clusters_needing, staging_clusters
from laneway.cache.sources import (
    LocalPathSource,
    cache_roots,
    credential_destination,
    credential_ref,
    source_for,
)
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import allow_deletion, block_deletion, is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.drivers.base import CacheStager, StandaloneStager
from laneway.drivers.registry import StagerContext, standalone_stagers
from laneway.egress.destinations import credential_refusal
from laneway.egress.policy import EgressPolicy
from laneway.store.base import Conflict

log = logging.getLogger(__name__)

FINALIZER = LABEL_PREFIX + "cache-files"
POLL_HYDRATING = 1.0
POLL_REMOTE = 5.0
RETRY_FAILED = 30.0


_REFUSALS = (EgressDenied.reason, OutsideCacheRoots.reason, InsufficientDisk.reason)


def ready_condition(entries: list[ClusterCacheStatus], *, selected: int | None = None) -> ConditionUpdate:
    """Ready when every cluster it is staged on has the cache (pure). `selected`: how many
    clusters the selector matches (None: as many as there are entries)."""
    if not entries:
        if selected:
            return ConditionUpdate(
                "Ready", "False", "NotNeeded",
                f"staged on a cluster only once a replica placed there needs it, and none does yet; "
                f"set spec.stageAhead: true to stage it now on the {selected} selected cluster(s)",
            )
        return ConditionUpdate("Ready", "False", "NoClusters", "the clusterSelector matches no InferenceCluster; widen it or label a cluster")
    failed = [e for e in entries if e.state == "Failed"]
    if failed:
        refused = next((r for e in failed for r in _REFUSALS if (e.message or "").startswith(r + ":")), None)
        return ConditionUpdate("Ready", "False", refused or "Failed", "; ".join(f"{e.cluster}: {e.message}" for e in failed))
    waiting = [e for e in entries if e.state != "Ready"]
    if waiting:
        return ConditionUpdate(
            "Ready", "False", "Hydrating", f"{len(entries) - len(waiting)} of {len(entries)} clusters ready; waiting for "
            + ", ".join(f"{e.cluster} ({e.state})" for e in waiting)
        )
    return ConditionUpdate("Ready", "True", "Ready", f"staged on {len(entries)} cluster(s)")


class CacheController:
    name = "modelcache"
    kind = "ModelCache"
    concurrency = 2

    def __init__(
        self,
        ctx: ControlContext,
        *,
        retry_after: float = RETRY_FAILED,
        stagers: Mapping[str, StandaloneStager] | None = None,
    ) -> None:
        """`stagers` are the standalone stagers by cluster source (default: every registered
        source's, see `laneway.drivers.registry.standalone_stagers`)."""
        self.ctx = ctx
        self.store = ctx.store
        self.retry_after = retry_after
        self._standalone: Mapping[str, StandaloneStager] = (
            stagers
            if stagers is not None
            else standalone_stagers(
                StagerContext(
                    cache_dir=ctx.data_dir.cache_dir if ctx.data_dir is not None else None,
                    retry_after=retry_after,
                    clock=lambda: ctx.clock(),
                )
            )
        )
        self._undeleted: set[tuple[str, str, str]] = set()  # (namespace, cache, cluster) still to clean
        self.watches: Mapping[str, KeyMapper] = {"InferenceCluster": self._every_cache, "InferenceGateway": self._every_cache, "ModelReplica": self._cache_of}

    def _every_cache(self, _: Resource) -> list[ObjectKey]:
        return [c.key for c in self.store.list(ModelCache).items]

    def _cache_of(self, replica: Resource) -> list[ObjectKey]:
        """A placed (or removed) replica changes where its cache is needed."""
        if not isinstance(replica, ModelReplica) or replica.spec.model_cache_ref is None:
            return []
        return [ObjectKey(replica.namespace, replica.spec.model_cache_ref.name)]

    def stop(self, timeout: float = 5.0) -> None:
        """Wait for what the standalone stagers still write (tests and an orderly shutdown;
        unfinished hydrations resume anyway)."""
        for stager in self._standalone.values():
            stager.wait(timeout)

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey) -> Result:
        cache = self.store.find(ModelCache, key)
        if cache is None:
            return Result()
        clusters = self.store.list(InferenceCluster).items
        selected = [c for c in clusters if cache_selects(cache, c)]
        if is_deleting(cache):
            everywhere = {e.cluster for e in cache.status.clusters} | {c.name for c in selected} | self._undeleted_on(cache)
            if await self._forget(cache, everywhere):
                return Result(requeue_after=POLL_HYDRATING)  # a cluster could not remove its copy yet
            allow_deletion(self.store, cache, FINALIZER)
            return Result()
        cache = block_deletion(self.store, cache, FINALIZER)

        matched = len(selected)
        selected = staging_clusters(cache, selected, clusters_needing(cache, self.store.list(ModelReplica, namespace=cache.namespace).items))
        kept = {c.name for c in selected}
        to_clean = ({e.cluster for e in cache.status.clusters} | self._undeleted_on(cache)) - kept
        self._undeleted -= {(cache.namespace, cache.name, name) for name in kept}  # selected again: kept
        if to_clean:
            await self._forget(cache, to_clean)

        ref = credential_ref(cache.spec)
        credential = self._secret(cache.namespace, ref) if ref is not None else None
        egress = EgressPolicy.from_gateways(self.store.list(InferenceGateway).items)
        problem = self._credential_problem(cache)
        if problem is None:
            try:
                source_for(cache.spec, lambda wanted: self._secret(cache.namespace, wanted), policy=egress)
            except CacheError as exc:
                problem = f"{exc.reason}: {exc}" if isinstance(exc, (EgressDenied, OutsideCacheRoots)) else str(exc)

        entries = []
        for c in sorted(selected, key=lambda c: c.name):
            refused = problem if problem is not None else _outside_roots(cache, c)
            if refused is not None:
                entries.append(ClusterCacheStatus(cluster=c.name, state="Failed", message=refused))
            else:
                entries.append(await self._entry(cache, c, credential, egress))
        try:
            write_status(
                self.store, cache, conditions=[ready_condition(entries, selected=matched)], fields={"clusters": [e.model_dump() for e in entries]},
                now=rfc3339(self.ctx.clock()),
            )
        except Conflict:
            return Result(requeue_after=POLL_HYDRATING)
        if any(e.state == "Hydrating" for e in entries):
            return Result(requeue_after=POLL_HYDRATING)
        if self._undeleted_on(cache) or any(e.state == "Pending" for e in entries):
            return Result(requeue_after=POLL_REMOTE)
        if any(e.state == "Failed" for e in entries):
            return Result(requeue_after=self.retry_after)
        return Result()

    def _stager(self, cluster: InferenceCluster) -> CacheStager | None:
        """Who stages caches on this cluster: its driver when it can, else a standalone stager
        for its source, else nobody in this process."""
        driver = self.ctx.drivers.for_cluster(cluster) if self.ctx.drivers is not None else None
        if isinstance(driver, CacheStager):
            return driver
        return self._standalone.get(cluster.spec.cluster.source)

    def _credential_problem(self, cache: ModelCache) -> str | None:
        """The refusal when the cache's credential Secret may not go where the source sends it."""
        ref = credential_ref(cache.spec)
        url = credential_destination(cache.spec)
        secret = self.store.find(Secret, ObjectKey(cache.namespace, ref.name)) if ref is not None else None
        if secret is None or url is None or ref is None:
            return None
        refusal = credential_refusal(secret, url, use=f"the credential Secret {ref.name!r}")
        return f"{EgressDenied.reason}: {refusal}" if refusal is not None else None

    async def _entry(
        self, cache: ModelCache, cluster: InferenceCluster, credential: str | None, egress: EgressPolicy
    ) -> ClusterCacheStatus:
        """Apply the cache on the cluster, then report what its stager observes."""
        stager = self._stager(cluster)
        if stager is None:
            return ClusterCacheStatus(
                cluster=cluster.name, state="Pending",
                message=f"this control plane has no driver that stages caches on cluster source {cluster.spec.cluster.source}",
            )
        await stager.apply_cache(cache, cluster, credential=credential, egress=egress)
        seen = await stager.observe_cache(cache, cluster)
        return ClusterCacheStatus(cluster=cluster.name, state=seen.state, bytes=seen.bytes, message=seen.message)

    def _undeleted_on(self, cache: ModelCache) -> set[str]:
        return {c for (ns, n, c) in self._undeleted if (ns, n) == (cache.namespace, cache.name)}

    async def _forget(self, cache: ModelCache, clusters: set[str]) -> set[str]:
        """Remove the cache's copy from these clusters; returns the clusters that could not do
        it now (remembered and retried by later reconciles). A cluster that no longer exists,
        or that nothing here stages caches on, is skipped."""
        failed: set[str] = set()
        for name in sorted(clusters):
            self._undeleted.discard((cache.namespace, cache.name, name))
            cluster = self.store.find(InferenceCluster, ObjectKey("", name))
            stager = self._stager(cluster) if cluster is not None else None
            if cluster is None or stager is None:
                continue
            try:
                await stager.delete_cache(cache, cluster)
            except Exception as exc:
                log.warning("could not delete ModelCache %s from cluster %s yet (retrying): %s", cache.key, name, exc)
                self._undeleted.add((cache.namespace, cache.name, name))
                failed.add(name)
        return failed

    def _secret(self, namespace: str, ref: SecretKeyRef) -> str | None:
        secret = self.store.find(Secret, ObjectKey(namespace, ref.name))
        return secret.value(ref.key) if secret is not None else None


def _outside_roots(cache: ModelCache, cluster: InferenceCluster) -> str | None:
    """A Local source's refusal on a Local cluster whose cache roots do not hold its path (the
    stager checks every file again as it copies). Says nothing about the host."""
    if cache.spec.local is None or cluster.spec.cluster.source != "Local":
        return None
    try:
        LocalPathSource(cache.spec.local.path, roots=cache_roots(cluster), cluster=cluster.name).check_roots()
    except OutsideCacheRoots as exc:
        return f"{exc.reason}: {exc}"
    return None
