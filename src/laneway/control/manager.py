"""The controller manager: one leader at a time, list-then-watch, queues and workers.

`Manager.run(stop)` loops between two states until `stop` is set:

- **standby**: try to take the leader lease in the store every `retry_interval`;
- **leading** (one "term"): renew the lease every `renew_interval`; list every kind the
  controllers need, then follow the store's revision stream from the revision taken before
  the list (a compacted revision, `Gone`, means list again); map each object to the keys of
  each controller; every `resync_period`, catch up on anything the watch missed (below); run
  each controller's workers over its de-duplicating queue.

Resync. Controllers are level-triggered, so a missed event must not leave an object
unreconciled for good. The resync does not list and re-reconcile everything (on a fleet of a
thousand clusters and two thousand deployments that was seconds of CPU every period, and the
largest part of an idle control plane's cost); it compares the resourceVersion of every stored
object (`Store.resource_versions`, one narrow read per kind, no document parsed) with the
last version the watch delivered, and queues only objects that are newer or unseen. An object
the watch saw that is gone from the store without a deletion event (checked again after
`CONFIRM_DELAY`, so a deletion event still in flight does not count) makes the term list
everything again, as at its start: that is the only way to replay it. A controller that must
look at an unchanged object again (an engine process, a remote cluster, a clock) asks for it
with `Result(requeue_after=...)`, never by waiting for the resync. Each term starts with a full
list, which is also the garbage collector's sweep of orphans left while no manager watched.

A term ends when `stop` is set (the lease is released so a standby takes over at once), when
a renew is refused (someone else holds the lease) or keeps failing past `renew_deadline`, or
when one of the term's own tasks dies unexpectedly. Ending a term cancels and awaits every
task it started, in-flight reconciles included, and throws its queues away: a new term
starts from a fresh list, which is enough because controllers are level-triggered.

Fencing. The lease's `transitions` is its fencing token (see `store.leasing`). Given a
`FencedStore` (the view of the store its controllers write through), the manager sets that
view's fence to (lease, identity, token) when a term begins and clears it when the term ends,
so a leader that stalled past its TTL and resumes after another took over has its writes
refused by the database instead of applied late. Without one (tests that build a manager on a
bare store), writes carry resourceVersions and reconciles are idempotent, which keeps an
overlap harmless but does not refuse it.

Takeover. A standby retries every `retry_interval`; a leader that dies leaves its lease to
expire, so another process leads within `lease_ttl + retry_interval` seconds (15 s + 2 s by
default; `laneway up --lease-ttl`). A leader that stops cleanly releases at once.

A controller's exception (or a reconcile running past `reconcile_timeout`) is logged with its
key and the key is retried with per-key exponential backoff; it never stops the manager or
other keys.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.api.registry import KINDS
from laneway.control.base import (
    NO_PRIMARY_KIND,
    BatchController,
    Controller,
    Result,
    concurrency_of,
)
from laneway.control.queue import Backoff, QueueShutDown, WorkQueue
from laneway.store.base import Gone, Store, WatchEvent
from laneway.store.fencing import FencedStore
from laneway.store.leasing import Fence
from laneway.store.watch import watch

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "laneway-controller-manager"


def default_identity() -> str:
    """A holder name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def dead_local_holder(holder: str, *, hostname: str, pid_alive: Callable[[int], bool]) -> bool:
    """Whether `holder` (a `default_identity()`) names a process of this host that is gone.

    A `laneway up` killed with SIGKILL leaves its lease to expire on its own (15 s); the next
    one on the same machine need not wait when the holder provably no longer runs. Holders
    from other hosts, or in another format, are never judged dead.
    """
    host, sep, rest = holder.rpartition("-")
    host, sep2, pid_text = host.rpartition("-")
    if not (sep and sep2) or host != hostname or not pid_text.isdigit() or not rest:
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ManagerOptions:
    """Timings of the manager. The defaults suit a fleet; tests shorten them."""

    lease_name: str = DEFAULT_LEASE_NAME
    lease_ttl: float = 15.0
    renew_interval: float = 5.0
    renew_deadline: float = 10.0
    retry_interval: float = 2.0
    resync_period: float = 300.0
    reconcile_timeout: float = 600.0
    backoff: Backoff = field(default_factory=Backoff)
    watch_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=10.0))

    def __post_init__(self) -> None:
        if not self.lease_name:
            raise ValueError("ManagerOptions.lease_name must not be empty")
        for name in (
            "lease_ttl",
            "renew_interval",
            "renew_deadline",
            "retry_interval",
            "resync_period",
            "reconcile_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"ManagerOptions.{name} must be a positive number of seconds, got {getattr(self, name)!r}")
        if not self.renew_interval < self.renew_deadline <= self.lease_ttl:
            raise ValueError(
                f"ManagerOptions need renew_interval < renew_deadline <= lease_ttl, got "
                f"{self.renew_interval} < {self.renew_deadline} <= {self.lease_ttl}: a leader must renew "
                "several times before it gives up, and give up before its lease expires"
            )


def keys_for(controller: Controller, obj: Resource) -> list[ObjectKey]:
    """The keys of `controller` a change to `obj` queues (pure; mappers may raise)."""
    keys: list[ObjectKey] = []
    if controller.kind and obj.kind == controller.kind:
        keys.append(obj.key)
    mapper = controller.watches.get(obj.kind)
    if mapper is not None:
        keys.extend(mapper(obj))
    return keys


def kinds_needed(controllers: Sequence[Controller]) -> frozenset[str]:
    """Every kind the controllers reconcile or watch; unknown kind names are refused."""
    known = {info.kind for info in KINDS}
    needed: set[str] = set()
    for c in controllers:
        for kind in (c.kind, *c.watches):
            if kind == NO_PRIMARY_KIND:
                continue
            if kind not in known:
                raise ValueError(
                    f"controller {c.name!r} names unknown kind {kind!r}; use a kind name such as "
                    f"{', '.join(sorted(known))}"
                )
            needed.add(kind)
    return frozenset(needed)


class _TermEnd(enum.Enum):
    STOPPED = "stopped"
    LOST = "lost"
    FAILED = "failed"


CONFIRM_DELAY = 5.0
"""Seconds a resync waits before it believes that an object vanished without a deletion event
(its event may still be on its way through the watch)."""


class _Term:
    """One period of leadership: the queues, the dispatch from objects to keys, and the
    resourceVersion of every object the watch delivered (what the resync compares)."""

    def __init__(self, controllers: Sequence[Controller], backoff: Backoff) -> None:
        self.queues: dict[str, WorkQueue[ObjectKey]] = {c.name: WorkQueue(backoff=backoff) for c in controllers}
        self._controllers = controllers
        self.seen: dict[str, dict[ObjectKey, int]] = {}

    def observe(self, obj: Resource, *, deleted_at: int | None = None) -> None:
        """Record what the list or the watch delivered (`deleted_at`: the revision of its
        deletion), then dispatch it. A list a resync made may run ahead of the watch, so an
        older event never lowers what is recorded."""
        versions = self.seen.setdefault(obj.kind, {})
        known = versions.get(obj.key, -1)
        if deleted_at is not None:
            if deleted_at > known:
                versions.pop(obj.key, None)
        else:
            versions[obj.key] = max(known, _version(obj))
        self.dispatch(obj)

    def dispatch(self, obj: Resource) -> None:
        for c in self._controllers:
            try:
                keys = keys_for(c, obj)
            except Exception:
                log.exception("controller %s: mapping %s %s to keys failed; skipped", c.name, obj.kind, obj.key)
                continue
            queue = self.queues[c.name]
            for key in keys:
                queue.add(key)

    def shutdown(self) -> None:
        for q in self.queues.values():
            q.shutdown()


class Manager:
    """Runs controllers while this process holds the leader lease; see the module docstring."""

    def __init__(
        self,
        store: Store,
        controllers: Sequence[Controller],
        *,
        identity: str,
        options: ManagerOptions | None = None,
        fenced: FencedStore | None = None,
        on_term: Callable[[Store], object] | None = None,
    ) -> None:
        if not identity:
            raise ValueError("Manager needs a non-empty identity (e.g. laneway.control.manager.default_identity())")
        names = [c.name for c in controllers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"controller names must be unique; registered twice: {', '.join(duplicates)}")
        for c in controllers:
            concurrency_of(c)  # refuse a bad value now, not in the first term
        self._store = store
        self._controllers = list(controllers)
        self._identity = identity
        self._options = options or ManagerOptions()
        self._kinds = kinds_needed(self._controllers)
        self._leading = False
        self._fenced = fenced
        self._on_term = on_term

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def is_leader(self) -> bool:
        """Whether this manager is reconciling right now (it holds the lease and a term runs)."""
        return self._leading

    async def run(self, stop: asyncio.Event) -> None:
        """Stand by, lead, and stand by again, until `stop` is set; returns once all is stopped."""
        opts = self._options
        holding = False
        try:
            while not stop.is_set():
                holding = self._try_acquire()
                if not holding:
                    await _wait(stop, opts.retry_interval)
                    continue
                log.info("controller manager %s is leading (lease %s)", self._identity, opts.lease_name)
                end = await self._lead(stop)
                if end is _TermEnd.LOST:
                    holding = False
                    log.warning("controller manager %s lost the lease; standing by", self._identity)
                elif end is _TermEnd.FAILED:
                    await _wait(stop, opts.retry_interval)
        finally:
            self._leading = False
            if holding:
                self._release()

    # -- the lease --------------------------------------------------------------------------

    def _try_acquire(self) -> bool:
        opts = self._options
        try:
            if self._store.acquire_lease(opts.lease_name, self._identity, opts.lease_ttl):
                return True
            current = self._store.get_lease(opts.lease_name)
            if current is not None and dead_local_holder(current.holder, hostname=socket.gethostname(), pid_alive=_pid_alive):
                log.info("controller manager %s: lease holder %s no longer runs on this host; taking over", self._identity, current.holder)
                self._store.release_lease(opts.lease_name, current.holder)
                return self._store.acquire_lease(opts.lease_name, self._identity, opts.lease_ttl)
            return False
        except Exception:
            log.exception("controller manager %s: acquiring lease %s failed", self._identity, opts.lease_name)
            return False

    def _release(self) -> None:
        try:
            self._store.release_lease(self._options.lease_name, self._identity)
            log.info("controller manager %s released lease %s", self._identity, self._options.lease_name)
        except Exception:
            log.exception("controller manager %s: releasing lease failed; it expires on its own", self._identity)

    async def _renew(self) -> None:
        """Return when leadership is lost: a refused renew, or failures past the deadline."""
        opts = self._options
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(opts.renew_interval)
            try:
                held = self._store.acquire_lease(opts.lease_name, self._identity, opts.lease_ttl)
            except Exception:
                log.exception("controller manager %s: renewing lease %s failed", self._identity, opts.lease_name)
                if time.monotonic() - last_ok >= opts.renew_deadline:
                    return
                continue
            if not held:
                return
            last_ok = time.monotonic()

    # -- one term ---------------------------------------------------------------------------

    def _fence_term(self) -> bool:
        """Give the controllers' store view this term's fence; False when the lease is not
        ours after all (taken over between acquiring and reading it)."""
        if self._fenced is None:
            return True
        lease = self._store.get_lease(self._options.lease_name)
        if lease is None or lease.holder != self._identity:
            return False
        self._fenced.hold(Fence(lease=lease.name, holder=self._identity, token=lease.transitions))
        if self._on_term is not None:
            self._on_term(self._fenced)
        return True

    async def _lead(self, stop: asyncio.Event) -> _TermEnd:
        try:
            if not self._fence_term():
                return _TermEnd.LOST
        except Exception:
            log.exception("controller manager %s: reading lease %s failed", self._identity, self._options.lease_name)
            return _TermEnd.FAILED
        term = _Term(self._controllers, self._options.backoff)
        renew = asyncio.create_task(self._renew(), name="lease-renew")
        stopped = asyncio.create_task(stop.wait(), name="stop-wait")
        core = [
            asyncio.create_task(self._inform(term), name="informer"),
            asyncio.create_task(self._resync(term), name="resync"),
        ]
        for c in self._controllers:
            for i in range(concurrency_of(c)):
                work = self._work_batches(c, term.queues[c.name]) if isinstance(c, BatchController) else self._work(c, term.queues[c.name])
                core.append(asyncio.create_task(work, name=f"worker-{c.name}-{i}"))
        self._leading = True
        try:
            done, _ = await asyncio.wait([stopped, renew, *core], return_when=asyncio.FIRST_COMPLETED)
            if stopped in done:
                return _TermEnd.STOPPED
            if renew in done:
                return _TermEnd.LOST
            for task in done:
                log.error("controller manager task %s ended unexpectedly: %r", task.get_name(), _outcome(task))
            return _TermEnd.FAILED
        finally:
            self._leading = False
            if self._fenced is not None:
                self._fenced.drop()
            term.shutdown()
            tasks = [stopped, renew, *core]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _list_all(self, term: _Term) -> int:
        """Queue every stored object; returns the revision to watch from (taken before)."""
        since = self._store.revision()
        for kind in sorted(self._kinds):
            term.seen[kind] = {}
            for obj in self._store.list(kind).items:
                term.observe(obj)
        return since

    async def _inform(self, term: _Term) -> None:
        """List, then follow the revision stream; list again on Gone or after an error."""
        failures = 0
        while True:
            try:
                since = self._list_all(term)
                async with _closing(watch(self._store, kinds=self._kinds, since=since)) as events:
                    async for event in events:
                        term.observe(_marked_deleted(event), deleted_at=event.revision if event.type == "DELETED" else None)
                        failures = 0
                raise RuntimeError("the watch stream ended")
            except Gone:
                log.info("watch fell behind the store's retained events; listing again")
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = self._options.watch_backoff.delay(failures)
                log.exception("list/watch failed; listing again in %.1fs", delay)
                await asyncio.sleep(delay)

    async def _resync(self, term: _Term) -> None:
        while True:
            await asyncio.sleep(self._options.resync_period)
            try:
                await self._catch_up(term)
            except Exception:
                log.exception("periodic resync failed; the next one retries")

    async def _catch_up(self, term: _Term) -> None:
        """Queue what the watch missed (see "Resync" in the module docstring)."""
        vanished: list[tuple[str, ObjectKey, int]] = []
        replayed = 0
        for kind in sorted(self._kinds):
            stored = self._store.resource_versions(kind)
            seen = term.seen.setdefault(kind, {})
            for key, version in stored.items():
                if seen.get(key, -1) < version:
                    obj = self._store.find(kind, key)
                    if obj is not None:  # else deleted since: its event comes
                        term.observe(obj)
                        replayed += 1
            vanished += [(kind, key, version) for key, version in seen.items() if key not in stored]
        if replayed:
            log.warning("resync: %d object(s) changed without their watch event reaching the controllers; queued them", replayed)
        if not vanished:
            return
        await asyncio.sleep(CONFIRM_DELAY)
        missed = [
            (kind, key)
            for kind, key, version in vanished
            if term.seen.get(kind, {}).get(key) == version and self._store.find(kind, key) is None
        ]
        if missed:
            kind, key = missed[0]
            log.warning(
                "resync: %d object(s) (%s %s first) were deleted without a watch event; listing everything again",
                len(missed), kind, key,
            )
            self._list_all(term)

    async def _work(self, controller: Controller, queue: WorkQueue[ObjectKey]) -> None:
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            try:
                # A reconcile that hangs would hold its worker (and its key) forever; past the
                # timeout it is cancelled and counted as a failure, so the key is retried.
                result: Any = await asyncio.wait_for(controller.reconcile(key), self._options.reconcile_timeout)
            except asyncio.CancelledError:
                queue.done(key)
                raise
            except Exception as exc:
                queue.done(key)
                delay = queue.add_rate_limited(key)
                failures = queue.failures(key)
                log.warning(
                    "controller %s: reconcile of %s failed (failure %d, retrying in %.2fs): %s",
                    controller.name,
                    key,
                    failures,
                    delay,
                    _describe_failure(exc, self._options.reconcile_timeout),
                    exc_info=exc if failures == 1 else None,  # the traceback once, not on every retry
                )
                continue
            queue.forget(key)
            queue.done(key)
            if isinstance(result, Result) and result.requeue_after is not None:
                queue.add_after(key, result.requeue_after)


    async def _work_batches(self, controller: BatchController, queue: WorkQueue[ObjectKey]) -> None:
        """`_work` for a BatchController: every ready key in one call."""
        while True:
            try:
                keys = await queue.get_batch(controller.batch_limit)
            except QueueShutDown:
                return
            try:
                results = await asyncio.wait_for(controller.reconcile_batch(keys), self._options.reconcile_timeout)
            except asyncio.CancelledError:
                for key in keys:
                    queue.done(key)
                raise
            except Exception as exc:
                for key in keys:
                    queue.done(key)
                    queue.add_rate_limited(key)
                log.warning(
                    "controller %s: reconcile of %d keys failed (retrying each with backoff): %s",
                    controller.name,
                    len(keys),
                    _describe_failure(exc, self._options.reconcile_timeout),
                    exc_info=exc,
                )
                continue
            for key in keys:
                queue.forget(key)
                queue.done(key)
                result = results.get(key)
                if result is not None and result.requeue_after is not None:
                    queue.add_after(key, result.requeue_after)


def _version(obj: Resource) -> int:
    text = obj.metadata.resource_version or ""
    return int(text) if text.isdigit() else 0


def _marked_deleted(event: WatchEvent) -> Resource:
    """The event's object; a deleted one carries deletionTimestamp even when it had no
    finalizer, so a mapper can tell an object that went away from one that changed."""
    obj = event.object
    if event.type != "DELETED" or obj.metadata.deletion_timestamp:
        return obj
    return obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"deletion_timestamp": now_rfc3339()})})


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds` or until `event` is set, whichever comes first."""
    with suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"timed out after {timeout}s"
    return str(exc) or type(exc).__name__


def _outcome(task: asyncio.Task[Any]) -> object:
    if task.cancelled():
        return "cancelled"
    return task.exception() or "returned"


class _closing:
    """`contextlib.aclosing` for any async iterator: closes it when it is a generator."""

    def __init__(self, it: AsyncIterator[Any]) -> None:
        self._it = it

    async def __aenter__(self) -> AsyncIterator[Any]:
        return self._it

    async def __aexit__(self, *exc: object) -> None:
        if isinstance(self._it, AsyncGenerator):  # a generator holds a store thread until closed
            with suppress(Exception):
                await self._it.aclose()
