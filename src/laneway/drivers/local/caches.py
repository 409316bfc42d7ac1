"""LocalCaches: how a Local cluster stages ModelCaches (the `CacheStager` of the Local driver).

A Local cluster is this machine, so its copy of a cache is a directory:
`<cache-dir>/<cluster>/<namespace>/<cache>` (see `laneway.cache.layout`), which the Local
driver mounts read-only into the engines that reference the cache. Every Local cluster of the
machine shares one copy of the same weights (`laneway.cache.shared`): the content is fetched
once into the shared store, and each cluster's directory is a reference to it (hard links).

Fetching is one daemon thread per shared copy, owned here: `apply_cache` starts one when the
copy is missing or stale and links the cluster's reference once it is whole, `observe_cache`
reads the fetch's progress (every cluster waiting for the same copy sees the same), and
readiness comes from the manifests on disk, so a restarted control plane finds finished caches
Ready without downloading again and resumes unfinished ones.

A failed fetch is reported with its reason and started again only after `retry_after`
seconds, so an offline machine does not hammer the source; the same failure again is logged
at WARNING only now and then (`laneway.cache.failures`), while the status says it every time.
A copy still being fetched for no other cluster cannot be deleted: `delete_cache` raises
`CacheBusy` and the caller tries again later.

Threads are daemon threads: a control plane that stops leaves partial files behind, which the
next fetch resumes. `wait` joins them (an orderly shutdown, tests). Only the caller's event
loop touches the fetch table; a fetch thread writes nothing but its own progress, error and
finish time.
"""

from __future__ import annotations

import asyncio
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
from laneway.cache.failures import RepeatedFailures
from laneway.cache.hydrate import Progress, hydrate, remove
from laneway.cache.layout import cache_path, read_manifest, staging_path
from laneway.cache.shared import is_whole, link_reference, shared_path, unreferenced
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
class _Fetch:
    """One fetch of one source into the shared store, run in a daemon thread."""

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
    """What the last `apply_cache` asked for: the source's fingerprint and its shared copy, or
    why there is none."""

    fingerprint: str | None
    problem: str | None = None
    shared: Path | None = None


def _key(cache: ModelCache, cluster: InferenceCluster) -> JobKey:
    return (cache.namespace, cache.name, cluster.name)


class LocalCaches:
    """The `CacheStager` for Local clusters: files under `cache_dir`, fetched once per machine by
    threads it owns and referenced by each cluster.

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
        self._fetches: dict[Path, _Fetch] = {}
        self._wanted: dict[JobKey, _Wanted] = {}
        self._failures = RepeatedFailures()

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
        if self.cache_dir is None:
            self._wanted[key] = _Wanted(fingerprint)
            return
        shared = shared_path(self.cache_dir, namespace=cache.namespace, fingerprint=fingerprint)
        self._wanted[key] = _Wanted(fingerprint, shared=shared)
        dest = self._dest(key)
        if is_whole(dest, fingerprint):
            return  # this cluster's reference (or an older private copy) is in place
        fetch = self._fetches.get(shared)
        if fetch is not None and fetch.running:
            return
        if is_whole(shared, fingerprint):
            await self._link(key, shared, dest)
            return
        if _failed_recently(fetch, self.clock(), self.retry_after):
            return  # reported as Failed until the retry is due
        refused = disk_refusal(
            cache.spec.declared_size_gib(), self.free(shared), _bytes_under(staging_path(shared)),
            cluster=cluster.name, where=self.cache_dir,
        )
        if refused is not None:
            self._wanted[key] = _Wanted(fingerprint, refused, shared)
            return
        self._start(shared, source)

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        key = _key(cache, cluster)
        wanted = self._wanted.get(key)
        if wanted is not None and wanted.problem is not None:
            return CacheState("Failed", message=wanted.problem)
        if self.cache_dir is None:
            return CacheState(
                "Pending", message="this control plane has no data directory, so it cannot stage caches on Local clusters"
            )
        if wanted is None or wanted.fingerprint is None or wanted.shared is None:
            return CacheState("Pending", message="not started on this cluster yet")
        fetch = self._fetches.get(wanted.shared)
        if fetch is not None and fetch.running:
            return _hydrating(fetch)
        dest = self._dest(key)
        if not is_whole(dest, wanted.fingerprint) and is_whole(wanted.shared, wanted.fingerprint):
            await self._link(key, wanted.shared, dest)  # fetched since the last apply: reference it now
        manifest = read_manifest(dest)
        if manifest is not None and manifest.fingerprint == wanted.fingerprint:
            return CacheState("Ready", bytes=manifest.bytes)
        if self._wanted[key].problem is not None:
            return CacheState("Failed", message=self._wanted[key].problem)
        if fetch is None or fetch.fingerprint != wanted.fingerprint:
            return CacheState("Pending", message="not started on this cluster yet")
        if fetch.error is None:
            return _hydrating(fetch)
        return CacheState("Failed", bytes=fetch.progress.done or None, message=f"{fetch.error.reason}: {fetch.error}")

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        key = _key(cache, cluster)
        wanted = self._wanted.get(key)
        shared = wanted.shared if wanted is not None else None
        fetch = self._fetches.get(shared) if shared is not None else None
        others = shared is not None and any(k != key and w.shared == shared for k, w in self._wanted.items())
        if fetch is not None and fetch.running and not others:
            raise CacheBusy(f"cache {cache.namespace}/{cache.name} is still being written on cluster {cluster.name}")
        self._wanted.pop(key, None)
        if self.cache_dir is None:
            return
        dest = self._dest(key)
        manifest = read_manifest(dest)
        remove(dest)
        for fingerprint in {w for w in (wanted.fingerprint if wanted else None, manifest.fingerprint if manifest else None) if w}:
            self._forget_shared(cache.namespace, fingerprint)

    # -- threads ----------------------------------------------------------------------------

    def wait(self, timeout: float = 5.0) -> None:
        """Wait up to `timeout` seconds for each running fetch (tests, an orderly shutdown)."""
        for fetch in list(self._fetches.values()):
            if fetch.thread is not None:
                fetch.thread.join(timeout)

    async def _link(self, key: JobKey, shared: Path, dest: Path) -> None:
        """Reference the shared copy from this cluster's directory (replacing what it held for an
        older spec, whose shared copy goes once nothing references it); a failure is this cluster's."""
        before = read_manifest(dest)
        try:
            await asyncio.to_thread(link_reference, shared, dest)
        except OSError as exc:
            wanted = self._wanted[key]
            self._wanted[key] = _Wanted(wanted.fingerprint, f"could not reference the staged copy at {dest}: {exc}", shared)
            return
        if before is not None and before.fingerprint != self._wanted[key].fingerprint:
            self._forget_shared(key[0], before.fingerprint)

    def _forget_shared(self, namespace: str, fingerprint: str) -> None:
        """Remove the shared copy of `fingerprint` unless a cluster references it, one is being
        fetched, or a cluster here still wants it."""
        assert self.cache_dir is not None, "callers check for a cache directory first"
        shared = shared_path(self.cache_dir, namespace=namespace, fingerprint=fingerprint)
        fetch = self._fetches.get(shared)
        if (fetch is not None and fetch.running) or any(w.shared == shared for w in self._wanted.values()):
            return
        if unreferenced(self.cache_dir, namespace=namespace, fingerprint=fingerprint):
            self._fetches.pop(shared, None)
            remove(shared)

    def _start(self, shared: Path, source: Source) -> _Fetch:
        fetch = _Fetch(fingerprint=source.fingerprint())

        def run() -> None:
            try:
                self.hydrator(source, shared, fetch.progress)
            except CacheError as exc:
                fetch.error = exc
                self._report(shared, source, f"{exc}")
            except Exception as exc:  # an OS or network error (or a bug): report it on the status
                fetch.error = CacheError(f"{type(exc).__name__}: {exc}")
                self._report(shared, source, f"{type(exc).__name__}: {exc}")
                log.debug("hydration failure of %s", source.describe(), exc_info=True)
            else:
                failed = self._failures.succeeded(shared)
                if failed:
                    log.info("hydrated %s into %s after %d failed attempt(s)", source.describe(), shared, failed)
            finally:
                fetch.finished_at = self.clock()

        fetch.thread = threading.Thread(target=run, name=f"hydrate-{shared.parent.name}/{shared.name}", daemon=True)
        self._fetches[shared] = fetch
        fetch.thread.start()
        return fetch

    def _report(self, shared: Path, source: Source, message: str) -> None:
        """One line per failed attempt would bury the log (an offline machine retries every 30 s):
        a repeated failure is a WARNING only now and then (see `RepeatedFailures`)."""
        verdict = self._failures.failed(shared, message)
        (log.warning if verdict.warn else log.debug)("hydrating %s into %s failed: %s", source.describe(), shared, verdict.line)

    def _dest(self, key: JobKey) -> Path:
        assert self.cache_dir is not None, "callers check for a cache directory first"
        namespace, name, cluster = key
        return cache_path(self.cache_dir, cluster=cluster, namespace=namespace, name=name)


def _failed_recently(fetch: _Fetch | None, now: float, retry_after: float) -> bool:
    return fetch is not None and fetch.error is not None and fetch.finished_at is not None and now - fetch.finished_at < retry_after


def _hydrating(fetch: _Fetch) -> CacheState:
    total = fetch.progress.total
    message = f"{fetch.progress.done} of {total} bytes" if total else f"{fetch.progress.done} bytes"
    return CacheState("Hydrating", bytes=fetch.progress.done, message=message)
