"""The ModelCache controller: stages weights once on every cluster a cache selects.

For each cluster the cache's `clusterSelector` matches, it reports one entry in
`status.clusters`: Pending, Hydrating (with `bytes` staged so far), Ready (with the cache's
size) or Failed (with the reason; retried after `retry_after` seconds).

- Local clusters: the controller hydrates `<data-dir>/cache/<cluster>/<namespace>/<cache>`
  itself, in one daemon thread per (cache, cluster) job, and polls its progress every second
  while it runs. Readiness is read from the staged directory's manifest (see
  `laneway.cache.layout`), so a restarted controller finds finished caches Ready without
  downloading again and resumes unfinished ones.
- Kubernetes (Existing) clusters: the cluster's driver applies a ReadWriteMany
  PersistentVolumeClaim and a hydration Job (`laneway.drivers.kubernetes.cache_render`, with the source's
  credential copied into a workload Secret) and reports the state it reads from the Job;
  the controller polls every `POLL_REMOTE` seconds until it is Ready or Failed. A `Local`
  source names a path on this machine, which a cluster cannot read: Failed, saying so.

A finalizer makes deleting a cache remove its staged files on Local clusters and its claim,
Job and Secret on Kubernetes clusters; a cluster the selector stops matching loses its copy
the same way. Deleting a cache that a deployment still
references is refused earlier, by the API server.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol

from laneway.api.kinds.cache import ClusterCacheStatus, ModelCache
from laneway.api.kinds.common import SecretKeyRef
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.secret import Secret
from laneway.api.meta import LABEL_PREFIX, ObjectKey, Resource
from laneway.cache.errors import CacheError
from laneway.cache.gate import cache_selects
from laneway.cache.hydrate import Progress, hydrate, remove
from laneway.cache.layout import cache_path, read_manifest
from laneway.cache.sources import Source, credential_ref, source_for
from laneway.cache.state import CacheState
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import allow_deletion, block_deletion, is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.store.base import Conflict

log = logging.getLogger(__name__)

FINALIZER = LABEL_PREFIX + "cache-files"
POLL_HYDRATING = 1.0
POLL_REMOTE = 5.0
RETRY_FAILED = 30.0

Hydrator = Callable[[Source, Path, Progress], object]


def _default_hydrator(source: Source, dest: Path, progress: Progress) -> object:
    return hydrate(source, dest, progress=progress)


@dataclass
class _Job:
    """One hydration of one cache onto one Local cluster, run in a daemon thread."""

    fingerprint: str
    progress: Progress = field(default_factory=Progress)
    error: CacheError | None = None
    finished_at: float | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class CacheDriver(Protocol):
    """What a driver offers to stage caches on its clusters (the Kubernetes driver does)."""

    async def apply_cache(self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None) -> None: ...

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState: ...

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None: ...


def _is_local(cluster: InferenceCluster) -> bool:
    return cluster.spec.cluster.source == "Local"


def ready_condition(entries: list[ClusterCacheStatus]) -> ConditionUpdate:
    """Ready when every selected cluster has the cache (pure)."""
    if not entries:
        return ConditionUpdate("Ready", "False", "NoClusters", "the clusterSelector matches no InferenceCluster; widen it or label a cluster")
    failed = [e for e in entries if e.state == "Failed"]
    if failed:
        return ConditionUpdate("Ready", "False", "Failed", "; ".join(f"{e.cluster}: {e.message}" for e in failed))
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

    def __init__(self, ctx: ControlContext, *, hydrator: Hydrator = _default_hydrator, retry_after: float = RETRY_FAILED) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.hydrator = hydrator
        self.retry_after = retry_after
        self._jobs: dict[tuple[str, str, str], _Job] = {}
        self._undeleted: set[tuple[str, str, str]] = set()  # (namespace, cache, cluster) still to clean
        self.watches: Mapping[str, KeyMapper] = {"InferenceCluster": self._every_cache}

    def _every_cache(self, _: Resource) -> list[ObjectKey]:
        return [c.key for c in self.store.list(ModelCache).items]

    def stop(self, timeout: float = 5.0) -> None:
        """Wait for running hydrations (tests and an orderly shutdown; they resume anyway)."""
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout)

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey) -> Result:
        cache = self.store.find(ModelCache, key)
        if cache is None:
            return Result()
        if is_deleting(cache):
            if any(self._jobs[k].running for k in self._jobs if k[:2] == (cache.namespace, cache.name)):
                return Result(requeue_after=POLL_HYDRATING)  # remove the files once the writer is done
            self._forget(cache, {e.cluster for e in cache.status.clusters} | self._job_clusters(cache))
            if await self._forget_remote(cache, {e.cluster for e in cache.status.clusters} | self._undeleted_on(cache)):
                return Result(requeue_after=POLL_REMOTE)  # a cluster could not delete its copy yet
            allow_deletion(self.store, cache, FINALIZER)
            return Result()
        cache = block_deletion(self.store, cache, FINALIZER)

        clusters = self.store.list(InferenceCluster).items
        selected = [c for c in clusters if cache_selects(cache, c)]
        gone = {e.cluster for e in cache.status.clusters} - {c.name for c in selected}
        if gone:
            self._forget(cache, gone)
        to_clean = (gone | self._undeleted_on(cache)) - {c.name for c in selected}
        self._undeleted -= {(cache.namespace, cache.name, c.name) for c in selected}  # selected again: kept
        if to_clean:
            await self._forget_remote(cache, to_clean)

        source: Source | None = None
        problem: str | None = None
        try:
            source = source_for(cache.spec, lambda ref: self._secret(cache.namespace, ref))
        except CacheError as exc:
            problem = str(exc)

        ordered = sorted(selected, key=lambda c: c.name)
        entries = []
        for c in ordered:
            remote = problem is None and source is not None and not _is_local(c)
            entries.append(await self._remote_entry(cache, c) if remote else self._entry(cache, c, source, problem))
        try:
            write_status(self.store, cache, conditions=[ready_condition(entries)], fields={"clusters": [e.model_dump() for e in entries]})
        except Conflict:
            return Result(requeue_after=POLL_HYDRATING)
        if any(e.state == "Hydrating" for e in entries):
            return Result(requeue_after=POLL_HYDRATING)
        if self._undeleted_on(cache) or any(e.state == "Pending" and not _is_local(c) for e, c in zip(entries, ordered)):
            return Result(requeue_after=POLL_REMOTE)
        if any(e.state == "Failed" for e in entries):
            return Result(requeue_after=self.retry_after)
        return Result()

    def _entry(self, cache: ModelCache, cluster: InferenceCluster, source: Source | None, problem: str | None) -> ClusterCacheStatus:
        name = cluster.name
        if problem is not None or source is None:
            return ClusterCacheStatus(cluster=name, state="Failed", message=problem)
        if self.ctx.data_dir is None:
            return ClusterCacheStatus(
                cluster=name, state="Pending", message="this control plane has no data directory, so it cannot stage caches on Local clusters"
            )
        dest = self._dest(cache, name)
        fingerprint = source.fingerprint()
        manifest = read_manifest(dest)
        job_key = (cache.namespace, cache.name, name)
        job = self._jobs.get(job_key)
        if manifest is not None and manifest.fingerprint == fingerprint and (job is None or not job.running):
            self._jobs.pop(job_key, None)
            return ClusterCacheStatus(cluster=name, state="Ready", bytes=manifest.bytes)
        if job is not None and job.fingerprint == fingerprint:
            if job.running:
                return self._hydrating(name, job)
            if job.error is not None and job.finished_at is not None and self.ctx.clock() - job.finished_at < self.retry_after:
                return ClusterCacheStatus(cluster=name, state="Failed", bytes=job.progress.done or None, message=f"{job.error.reason}: {job.error}")
        job = self._start(job_key, source, dest)
        return self._hydrating(name, job)

    def _cache_driver(self, cluster: InferenceCluster) -> CacheDriver | None:
        driver = self.ctx.drivers.for_cluster(cluster) if self.ctx.drivers is not None else None
        return driver if driver is not None and hasattr(driver, "apply_cache") else None  # type: ignore[return-value]

    async def _remote_entry(self, cache: ModelCache, cluster: InferenceCluster) -> ClusterCacheStatus:
        """The cache on a cluster its driver stages (Kubernetes): apply, then read the Job."""
        name = cluster.name
        if cache.spec.source == "Local":
            return ClusterCacheStatus(
                cluster=name, state="Failed",
                message=f"source Local names a path on the control-plane machine, which cluster {name} cannot read; "
                "use a HuggingFace, S3 or HTTP source, or narrow clusterSelector to Local clusters",
            )
        driver = self._cache_driver(cluster)
        if driver is None:
            return ClusterCacheStatus(
                cluster=name, state="Pending",
                message=f"this control plane has no driver that stages caches on cluster source {cluster.spec.cluster.source}",
            )
        ref = credential_ref(cache.spec)
        credential = self._secret(cache.namespace, ref) if ref is not None else None
        await driver.apply_cache(cache, cluster, credential=credential)
        seen = await driver.observe_cache(cache, cluster)
        return ClusterCacheStatus(cluster=name, state=seen.state, bytes=seen.bytes, message=seen.message)

    def _undeleted_on(self, cache: ModelCache) -> set[str]:
        return {c for (ns, n, c) in self._undeleted if (ns, n) == (cache.namespace, cache.name)}

    async def _forget_remote(self, cache: ModelCache, clusters: set[str]) -> set[str]:
        """Delete the cache's objects from these clusters where a driver stages them; returns
        the clusters that could not do it now (remembered and retried by later reconciles).
        A cluster that no longer exists is skipped."""
        failed: set[str] = set()
        for name in sorted(clusters):
            self._undeleted.discard((cache.namespace, cache.name, name))
            cluster = self.store.find(InferenceCluster, ObjectKey("", name))
            if cluster is None or _is_local(cluster):
                continue
            driver = self._cache_driver(cluster)
            if driver is None:
                continue
            try:
                await driver.delete_cache(cache, cluster)
            except Exception as exc:  # noqa: BLE001 - an unreachable cluster: retried, never fatal
                log.warning("could not delete ModelCache %s from cluster %s yet (retrying): %s", cache.key, name, exc)
                self._undeleted.add((cache.namespace, cache.name, name))
                failed.add(name)
        return failed

    @staticmethod
    def _hydrating(cluster: str, job: _Job) -> ClusterCacheStatus:
        total = job.progress.total
        message = f"{job.progress.done} of {total} bytes" if total else f"{job.progress.done} bytes"
        return ClusterCacheStatus(cluster=cluster, state="Hydrating", bytes=job.progress.done, message=message)

    def _start(self, job_key: tuple[str, str, str], source: Source, dest: Path) -> _Job:
        job = _Job(fingerprint=source.fingerprint())

        def run() -> None:
            try:
                self.hydrator(source, dest, job.progress)
            except CacheError as exc:
                job.error = exc
                log.warning("hydrating %s into %s failed: %s", source.describe(), dest, exc)
            except Exception as exc:  # an OS or network error (or a bug): report it on the status
                job.error = CacheError(f"{type(exc).__name__}: {exc}")
                # One line per failed attempt: an offline machine retries every 30 s, and a
                # traceback each time buries the log. The traceback is there at debug level.
                log.warning("hydrating %s into %s failed: %s: %s", source.describe(), dest, type(exc).__name__, exc)
                log.debug("hydration failure of %s", source.describe(), exc_info=True)
            finally:
                job.finished_at = self.ctx.clock()

        job.thread = threading.Thread(target=run, name=f"hydrate-{'/'.join(job_key)}", daemon=True)
        self._jobs[job_key] = job
        job.thread.start()
        return job

    def _dest(self, cache: ModelCache, cluster: str) -> Path:
        assert self.ctx.data_dir is not None
        return cache_path(self.ctx.data_dir.cache_dir, cluster=cluster, namespace=cache.namespace, name=cache.name)

    def _job_clusters(self, cache: ModelCache) -> set[str]:
        return {c for (ns, n, c) in self._jobs if (ns, n) == (cache.namespace, cache.name)}

    def _forget(self, cache: ModelCache, clusters: set[str]) -> None:
        """Drop staged copies (and finished jobs) of the cache on these clusters."""
        for cluster in clusters:
            job = self._jobs.get((cache.namespace, cache.name, cluster))
            if job is not None and job.running:
                continue  # removed on a later reconcile, once the thread is done
            self._jobs.pop((cache.namespace, cache.name, cluster), None)
            if self.ctx.data_dir is not None:
                remove(self._dest(cache, cluster))

    def _secret(self, namespace: str, ref: SecretKeyRef) -> str | None:
        secret = self.store.find(Secret, ObjectKey(namespace, ref.name))
        return secret.value(ref.key) if secret is not None else None
