"""FencedStore: the store as the controllers see it, every write checked against the leader lease.

The controller manager hands its controllers this view of the store and sets its `Fence` (the
lease, this manager's identity and the lease's fencing token) at the start of each term of
leadership, clearing it when the term ends. Each object write then checks, in the same
database transaction, that the lease is still held by this manager in the same term; a
manager that was paused (a long GC, a frozen VM, a network partition) past its lease and
resumes after another took over has its late writes refused with `Fenced` (a 409) instead of
overwriting the new leader's work. Between terms no fence is set and every write is refused.

Reads, leases and tokens pass straight through: only object writes change the fleet.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Sequence
from typing import TypeVar, overload

from laneway.api.meta import ObjectKey, Resource
from laneway.api.selectors import Requirement
from laneway.store.base import Lease, ListResult, Store, TokenRecord, WatchEvent
from laneway.store.core import RecordStore
from laneway.store.leasing import Fence, Fenced

R = TypeVar("R", bound=Resource)


class FencedStore:
    """A Store whose object writes carry the current term's fence (see the module docstring)."""

    def __init__(self, inner: Store) -> None:
        if not isinstance(inner, RecordStore):
            raise TypeError(f"a FencedStore wraps a store with fenced writes (a RecordStore), not {type(inner).__name__}")
        self.inner: RecordStore = inner
        self._fence: Fence | None = None
        self._lock = threading.Lock()

    def hold(self, fence: Fence) -> None:
        """Write as `fence`'s holder from now on (a new term began)."""
        with self._lock:
            self._fence = fence

    def drop(self) -> None:
        """The term ended: refuse writes until the next `hold`."""
        with self._lock:
            self._fence = None

    @property
    def fence(self) -> Fence | None:
        return self._fence

    def _current(self) -> Fence:
        fence = self._fence
        if fence is None:
            raise Fenced("this controller manager does not lead now: its write was refused")
        return fence

    # -- writes, fenced ---------------------------------------------------------------------

    def create(self, obj: R) -> R:
        return self.inner.create(obj, fence=self._current())

    def update(self, obj: R) -> R:
        return self.inner.update(obj, fence=self._current())

    def update_status(self, obj: R) -> R:
        return self.inner.update_status(obj, fence=self._current())

    @overload
    def delete(self, kind: type[R], key: ObjectKey, *, resource_version: str | None = None) -> R: ...
    @overload
    def delete(self, kind: str, key: ObjectKey, *, resource_version: str | None = None) -> Resource: ...
    def delete(self, kind: type[R] | str, key: ObjectKey, *, resource_version: str | None = None) -> R | Resource:
        return self.inner.delete(kind, key, resource_version=resource_version, fence=self._current())

    # -- everything else, as the store does it ----------------------------------------------

    @overload
    def get(self, kind: type[R], key: ObjectKey) -> R: ...
    @overload
    def get(self, kind: str, key: ObjectKey) -> Resource: ...
    def get(self, kind: type[R] | str, key: ObjectKey) -> R | Resource:
        return self.inner.get(kind, key)

    @overload
    def find(self, kind: type[R], key: ObjectKey) -> R | None: ...
    @overload
    def find(self, kind: str, key: ObjectKey) -> Resource | None: ...
    def find(self, kind: type[R] | str, key: ObjectKey) -> R | Resource | None:
        return self.inner.find(kind, key)

    @overload
    def list(
        self, kind: type[R], *, namespace: str | None = None, selector: Sequence[Requirement] = ()
    ) -> ListResult[R]: ...
    @overload
    def list(
        self, kind: str, *, namespace: str | None = None, selector: Sequence[Requirement] = ()
    ) -> ListResult[Resource]: ...
    def list(
        self, kind: type[R] | str, *, namespace: str | None = None, selector: Sequence[Requirement] = ()
    ) -> ListResult[R] | ListResult[Resource]:
        return self.inner.list(kind, namespace=namespace, selector=selector)

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        return self.inner.dependents(owner_uid)

    def exists_uid(self, uid: str) -> bool:
        return self.inner.exists_uid(uid)

    def resource_versions(self, kind: str) -> dict[ObjectKey, int]:
        return self.inner.resource_versions(kind)

    def namespaces(self) -> builtins.list[str]:
        return self.inner.namespaces()

    def revision(self) -> int:
        return self.inner.revision()

    def events_since(
        self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> builtins.list[WatchEvent]:
        return self.inner.events_since(revision, kinds=kinds, limit=limit)

    def wait_for_revision(self, revision: int, timeout: float) -> int:
        return self.inner.wait_for_revision(revision, timeout)

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        return self.inner.acquire_lease(name, holder, ttl_seconds)

    def release_lease(self, name: str, holder: str) -> None:
        self.inner.release_lease(name, holder)

    def get_lease(self, name: str) -> Lease | None:
        return self.inner.get_lease(name)

    def put_token(self, record: TokenRecord) -> None:
        self.inner.put_token(record)

    def find_token(self, token_sha256: str) -> TokenRecord | None:
        return self.inner.find_token(token_sha256)

    def list_tokens(self) -> builtins.list[TokenRecord]:
        return self.inner.list_tokens()

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        return self.inner.revoke_token(token_sha256, revoked)

    def touch_token(self, token_sha256: str, used: str) -> None:
        self.inner.touch_token(token_sha256, used)

    def close(self) -> None:
        """The inner store belongs to whoever opened it; closing the view closes nothing."""
