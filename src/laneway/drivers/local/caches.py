"""LocalCaches: how a Local cluster stages ModelCaches (the `CacheStager` of the Local driver).

A Local cluster is this machine, so its copy of a cache is a directory:
`<cache-dir>/<cluster>/<namespace>/<cache>` (see `laneway.cache.layout`), which the Local
driver mounts read-only into the engines that reference the cache. Staging is one daemon
thread per (cache, cluster) job, owned here: `apply_cache` starts one when the staged copy is
missing or stale, `observe_cache` reads its progress, and readiness comes from the staged
directory's manifest, so a restarted control plane finds finished caches Ready without
downloading again and resumes unfinished ones.

A failed hydration is reported with its reason and started again only after `retry_after`
seconds, so an offline machine does not hammer the source. A copy still being written cannot be
deleted: `delete_cache` raises `CacheBusy` and the caller tries again later.

Threads are daemon threads: a control plane that stops leaves partial files behind, which the
next hydration resumes. `wait` joins them (an orderly shutdown, tests). Only the caller's
event loop touches the job table; a hydration thread writes nothing but its own job's
progress, error and finish time.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.errors import CacheError, InsufficientDisk
from laneway.cache.hydrate import Progress, hydrate, remove
from laneway.cache.layout import cache_path, read_manifest
from laneway.cache.sources import Source, cache_roots, source_for
from laneway.cache.state import CacheState
from laneway.egress.policy import EgressPolicy

log = logging.getLogger(__name__)

GIB = 1024**3
RETRY_FAILED = 30.0
"""Seconds before a failed hydration is started again."""

Hydrator = Callable[[Source, Path, Progress], object]
JobKey = tuple[str, str, str]
"""(namespace, cache, cluster)."""


def default_hydrator(source: Source, dest: Path, progress: Progress) -> object:
    return hydrate(source, dest, progress=progress)


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem that holds `path` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _bytes_under(path: Path) -> int:
    """What a partial copy already holds (a resumed hydration needs that much less)."""
    if not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def disk_refusal(declared_gib: int | None, free: int, partial: int, *, cluster: str, where: Path) -> str | None:
    """Why a cache of `declared_gib` may not start on this disk, or None (pure)."""
    if declared_gib is None:
        return None
    needed = declared_gib * GIB - partial
    if needed <= free:
        return None
    return (
        f"{InsufficientDisk.reason}: the cache declares sizeGiB {declared_gib} but only {free / GIB:.1f} GiB is free "
        f"under {where} on cluster {cluster}; free disk space there, or correct sizeGiB if it overstates the weights"
    )


class CacheBusy(CacheError):
    """The cache's copy on a cluster is still being written; it can be removed once that stops."""

    reason = "Hydrating"


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


@dataclass(frozen=True)
class _Wanted:
    """What the last `apply_cache` asked for: the source's fingerprint, or why there is none."""

    fingerprint: str | None
    problem: str | None = None


def _key(cache: ModelCache, cluster: InferenceCluster) -> JobKey:
    return (cache.namespace, cache.name, cluster.name)


class LocalCaches:
    """The `CacheStager` for Local clusters: files under `cache_dir`, staged by threads it owns.

    `cache_dir` None (a control plane without a data directory) stages nothing and says so.
    """

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        hydrator: Hydrator = default_hydrator,
        retry_after: float = RETRY_FAILED,
        clock: Callable[[], float] = time.time,
        free: Callable[[Path], int] = free_bytes,
    ) -> None:
        """`free`: free bytes under a path (tests give a small disk)."""
        self.cache_dir = cache_dir
        self.free = free
        self.hydrator = hydrator
        self.retry_after = retry_after
        self.clock = clock
        self._jobs: dict[JobKey, _Job] = {}
        self._wanted: dict[JobKey, _Wanted] = {}

    # -- CacheStager ------------------------------------------------------------------------

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None:
        key = _key(cache, cluster)
        try:
            source = source_for(
                cache.spec, lambda _ref: credential, policy=egress, roots=cache_roots(cluster), cluster=cluster.name
            )
        except CacheError as exc:
            self._wanted[key] = _Wanted(None, str(exc))
            return
        fingerprint = source.fingerprint()
        self._wanted[key] = _Wanted(fingerprint)
        if self.cache_dir is None:
            return
        dest = self._dest(key)
        job = self._jobs.get(key)
        if job is not None and job.fingerprint == fingerprint:
            if job.running:
                return
            if job.error is not None and job.finished_at is not None and self.clock() - job.finished_at < self.retry_after:
                return  # failed recently: reported as Failed until the retry is due
        manifest = read_manifest(dest)
        if manifest is not None and manifest.fingerprint == fingerprint and (job is None or not job.running):
            return
        refused = disk_refusal(
            cache.spec.declared_size_gib(), self.free(dest), _bytes_under(dest), cluster=cluster.name, where=self.cache_dir
        )
        if refused is not None:
            self._wanted[key] = _Wanted(fingerprint, refused)
            return
        self._start(key, source, dest)

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        key = _key(cache, cluster)
        wanted = self._wanted.get(key)
        if wanted is not None and wanted.problem is not None:
            return CacheState("Failed", message=wanted.problem)
        if self.cache_dir is None:
            return CacheState(
                "Pending", message="this control plane has no data directory, so it cannot stage caches on Local clusters"
            )
        if wanted is None or wanted.fingerprint is None:
            return CacheState("Pending", message="not started on this cluster yet")
        job = self._jobs.get(key)
        manifest = read_manifest(self._dest(key))
        if manifest is not None and manifest.fingerprint == wanted.fingerprint and (job is None or not job.running):
            self._jobs.pop(key, None)
            return CacheState("Ready", bytes=manifest.bytes)
        if job is None or job.fingerprint != wanted.fingerprint:
            return CacheState("Pending", message="not started on this cluster yet")
        if job.running or job.error is None:
            return _hydrating(job)
        return CacheState("Failed", bytes=job.progress.done or None, message=f"{job.error.reason}: {job.error}")

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        key = _key(cache, cluster)
        job = self._jobs.get(key)
        if job is not None and job.running:
            raise CacheBusy(f"cache {cache.namespace}/{cache.name} is still being written on cluster {cluster.name}")
        self._jobs.pop(key, None)
        self._wanted.pop(key, None)
        if self.cache_dir is not None:
            remove(self._dest(key))

    # -- threads ----------------------------------------------------------------------------

    def wait(self, timeout: float = 5.0) -> None:
        """Wait up to `timeout` seconds for each running hydration (tests, an orderly shutdown)."""
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout)

    def _start(self, key: JobKey, source: Source, dest: Path) -> _Job:
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
                job.finished_at = self.clock()

        job.thread = threading.Thread(target=run, name=f"hydrate-{'/'.join(key)}", daemon=True)
        self._jobs[key] = job
        job.thread.start()
        return job

    def _dest(self, key: JobKey) -> Path:
        assert self.cache_dir is not None, "callers check for a cache directory first"
        namespace, name, cluster = key
        return cache_path(self.cache_dir, cluster=cluster, namespace=namespace, name=name)


def _hydrating(job: _Job) -> CacheState:
    total = job.progress.total
    message = f"{job.progress.done} of {total} bytes" if total else f"{job.progress.done} bytes"
    return CacheState("Hydrating", bytes=job.progress.done, message=message)
