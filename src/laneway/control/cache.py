"""The ModelCache controller: stages weights once on every cluster a cache selects.

For each cluster the cache's `clusterSelector` matches, it reports one entry in
`status.clusters`: Pending, Hydrating (with `bytes` staged so far), Ready (with the cache's
size) or Failed (with the reason; retried after `retry_after` seconds).

- Local clusters: the controller hydrates `<data-dir>/cache/<cluster>/<namespace>/<cache>`
  itself, in one daemon thread per (cache, cluster) job, and polls its progress every second
  while it runs. Readiness is read from the staged directory's manifest (see
  `laneway.cache.layout`), so a restarted controller finds finished caches Ready without
  downloading again and resumes unfinished ones.
- Other clusters: a ReadWriteMany PersistentVolumeClaim and a hydration Job are rendered
  (`laneway.cache.kubernetes`); applying them is the Kubernetes driver's job, so the entry
  stays Pending and says so until that driver reports on them.

A finalizer makes deleting a cache remove its staged files on Local clusters; a cluster the
selector stops matching loses its copy the same way. Deleting a cache that a deployment still
references is refused earlier, by the API server.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from laneway.api.kinds.cache import ClusterCacheStatus, ModelCache
from laneway.api.kinds.common import SecretKeyRef
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.secret import Secret
from laneway.api.meta import LABEL_PREFIX, ObjectKey, Resource
from laneway.cache.errors import CacheError
from laneway.cache.gate import cache_selects
from laneway.cache.hydrate import Progress, hydrate, remove
from laneway.cache.kubernetes import render_cache_objects
from laneway.cache.layout import cache_path, read_manifest
from laneway.cache.sources import Source, source_for
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.status import ConditionUpdate, write_status
from laneway.store.base import Conflict, NotFound

log = logging.getLogger(__name__)

FINALIZER = LABEL_PREFIX + "cache-files"
POLL_HYDRATING = 1.0
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
        self.watches: Mapping[str, KeyMapper] = {"InferenceCluster": self._every_cache}

    def _every_cache(self, _: Resource) -> list[ObjectKey]:
        return [c.key for c in self.store.list("ModelCache").items]

    def stop(self, timeout: float = 5.0) -> None:
        """Wait for running hydrations (tests and an orderly shutdown; they resume anyway)."""
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout)

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey) -> Result:
        try:
            cache = self.store.get("ModelCache", key)
        except NotFound:
            return Result()
        assert isinstance(cache, ModelCache)
        if cache.metadata.deletion_timestamp:
            if any(self._jobs[k].running for k in self._jobs if k[:2] == (cache.namespace, cache.name)):
                return Result(requeue_after=POLL_HYDRATING)  # remove the files once the writer is done
            self._forget(cache, {e.cluster for e in cache.status.clusters} | self._job_clusters(cache))
            if FINALIZER in cache.metadata.finalizers:
                cache.metadata.finalizers = [f for f in cache.metadata.finalizers if f != FINALIZER]
                self.store.update(cache)
            return Result()
        if FINALIZER not in cache.metadata.finalizers:
            cache.metadata.finalizers = [*cache.metadata.finalizers, FINALIZER]
            cache = self.store.update(cache)  # type: ignore[assignment]

        clusters = [c for c in self.store.list("InferenceCluster").items if isinstance(c, InferenceCluster)]
        selected = [c for c in clusters if cache_selects(cache, c)]
        gone = {e.cluster for e in cache.status.clusters} - {c.name for c in selected}
        if gone:
            self._forget(cache, gone)

        source: Source | None = None
        problem: str | None = None
        try:
            source = source_for(cache.spec, lambda ref: self._secret(cache.namespace, ref))
        except CacheError as exc:
            problem = str(exc)

        entries = [self._entry(cache, c, source, problem) for c in sorted(selected, key=lambda c: c.name)]
        try:
            write_status(self.store, cache, conditions=[ready_condition(entries)], fields={"clusters": [e.model_dump() for e in entries]})
        except Conflict:
            return Result(requeue_after=POLL_HYDRATING)
        if any(e.state == "Hydrating" for e in entries):
            return Result(requeue_after=POLL_HYDRATING)
        if any(e.state == "Failed" for e in entries):
            return Result(requeue_after=self.retry_after)
        return Result()

    def _entry(self, cache: ModelCache, cluster: InferenceCluster, source: Source | None, problem: str | None) -> ClusterCacheStatus:
        name = cluster.name
        if problem is not None or source is None:
            return ClusterCacheStatus(cluster=name, state="Failed", message=problem)
        if not _is_local(cluster):
            objects = render_cache_objects(cache, cluster)
            kinds = " and ".join(f"{o['kind']} {o['metadata']['name']}" for o in objects)
            return ClusterCacheStatus(
                cluster=name, state="Pending",
                message=f"{kinds} rendered for cluster source {cluster.spec.cluster.source}; waiting for the Kubernetes driver to apply them",
            )
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
            except Exception as exc:  # a bug or an OS error: report it on the status, do not kill the thread silently
                job.error = CacheError(f"{type(exc).__name__}: {exc}")
                log.exception("hydrating %s into %s failed", source.describe(), dest)
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
        try:
            secret = self.store.get("Secret", ObjectKey(namespace, ref.name))
        except NotFound:
            return None
        return secret.value(ref.key) if isinstance(secret, Secret) else None
