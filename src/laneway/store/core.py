"""The write path every backend shares: one transaction, one revision, one event per write.

`RecordStore` implements the Store protocol's writes (create, update, update_status, delete,
leases) once, on top of a small `Transaction` interface a backend provides: read a document,
read and advance the revision, record a change (object row, owner index, event), read and write
a lease. What each write means lives in `bookkeeping` and `leasing`; what a backend adds is
only how it keeps rows and how it makes a transaction atomic.

The typed reads (`get`, `find`, `list` by model class, or by kind name for callers that hold
only a name) are implemented here too, over two raw reads a backend provides
(`_read_document`, `_read_documents`): parsing into the kind's model and label filtering live
in one place, so a new backend (PostgreSQL) gets the typed surface by writing two queries.
Other reads (events_since, dependents, ...) are each backend's own, one query each.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar, overload

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.api.registry import by_kind
from laneway.api.selectors import Requirement
from laneway.store import bookkeeping as bk
from laneway.store import budgets, leasing
from laneway.store.base import (
    AlreadyExists,
    Lease,
    ListResult,
    NotFound,
    TokenRecord,
    WatchEvent,
)
from laneway.store.signal import RevisionSignal

DEFAULT_EVENT_RETENTION = 10_000

R = TypeVar("R", bound=Resource)


class _Plan(Protocol):
    def __call__(self, stored: bk.Document, obj: Resource, key: ObjectKey, *, revision: int) -> bk.Change | None: ...


def kind_model(kind: type[R] | str) -> type[R] | type[Resource]:
    """The model class a read or delete names: the class itself, or the registered class of a
    kind name. A class that is not a registered kind is refused (a programming error)."""
    if isinstance(kind, str):
        return by_kind(kind).model
    registered = by_kind(kind.KIND).model
    if not issubclass(kind, registered):
        raise TypeError(f"{kind.__name__} is not the registered model of kind {kind.KIND!r} ({registered.__name__})")
    return kind


class Transaction(Protocol):
    """One atomic unit of writes. Everything recorded in it lands together or not at all."""

    def get(self, kind: str, key: ObjectKey) -> bk.Document | None: ...

    def revision(self) -> int: ...

    def record(self, kind: str, key: ObjectKey, change: bk.Change, *, revision: int) -> None:
        """Store `change.stored` (or remove the object when None), append the event with
        `change.returned`, and make `revision` the current revision."""

    def compact(self, floor: int) -> None:
        """Drop events at or below `floor`; events_since(r) for r < floor raises Gone after."""

    def compacted(self) -> int: ...

    def get_lease(self, name: str) -> Lease | None: ...

    def put_lease(self, lease: Lease) -> None: ...

    def get_budget(self, key: str) -> budgets.Budget | None: ...

    def put_budget(self, key: str, budget: budgets.Budget) -> None: ...


class RecordStore(ABC):
    """Writes of the Store protocol, shared by every backend."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        event_retention: int = DEFAULT_EVENT_RETENTION,
        poll_interval: float | None = None,
    ) -> None:
        if event_retention < 1:
            raise ValueError(f"event_retention must be at least 1, got {event_retention}")
        self._clock = clock
        self._event_retention = event_retention
        self._signal = RevisionSignal(poll_interval=poll_interval)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Transaction]:
        """An exclusive write transaction: commit on normal exit, roll back on an exception."""

    @abstractmethod
    def revision(self) -> int: ...

    def _budget_transaction(self, key: str) -> AbstractContextManager[Transaction]:
        """A transaction that serialises the takers of budget `key`; a backend with row locks
        locks only that budget's row instead of every write (postgres.py)."""
        return self._transaction()

    @abstractmethod
    def _read_document(self, kind: str, key: ObjectKey) -> bk.Document | None:
        """The stored document of `kind` under `key` (already a storage key), or None."""

    @abstractmethod
    def _read_documents(self, kind: str, namespace: str | None) -> tuple[list[bk.Document], int]:
        """Every stored document of `kind` (in `namespace`, or all when None), sorted by
        (namespace, name), with the revision they are consistent at: one read snapshot."""

    # The reads and records each backend keeps its own way (one query each); declared here so
    # a RecordStore is a whole Store to those that wrap it (store.fencing).

    @abstractmethod
    def dependents(self, owner_uid: str) -> list[Resource]: ...

    @abstractmethod
    def exists_uid(self, uid: str) -> bool: ...

    def resource_versions(self, kind: str) -> dict[ObjectKey, int]:
        """See `Store.resource_versions`; backends with SQL read the one field instead."""
        docs, _ = self._read_documents(kind, None)
        return {ObjectKey(d["metadata"].get("namespace") or "", d["metadata"]["name"]): int(bk.resource_version(d)) for d in docs}

    @abstractmethod
    def namespaces(self) -> list[str]: ...

    @abstractmethod
    def events_since(self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000) -> list[WatchEvent]: ...

    @abstractmethod
    def get_lease(self, name: str) -> Lease | None: ...

    @abstractmethod
    def put_token(self, record: TokenRecord) -> None: ...

    @abstractmethod
    def find_token(self, token_sha256: str) -> TokenRecord | None: ...

    @abstractmethod
    def list_tokens(self) -> list[TokenRecord]: ...

    @abstractmethod
    def revoke_token(self, token_sha256: str, revoked: str) -> bool: ...

    @abstractmethod
    def touch_token(self, token_sha256: str, used: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- typed reads --------------------------------------------------------------------------

    @overload
    def get(self, kind: type[R], key: ObjectKey) -> R: ...
    @overload
    def get(self, kind: str, key: ObjectKey) -> Resource: ...
    def get(self, kind: type[R] | str, key: ObjectKey) -> R | Resource:
        found = self.find(kind, key)
        if found is None:
            name = kind if isinstance(kind, str) else kind.KIND
            raise NotFound(f"{bk.describe(name, bk.storage_key(name, key.namespace, key.name))} not found")
        return found

    @overload
    def find(self, kind: type[R], key: ObjectKey) -> R | None: ...
    @overload
    def find(self, kind: str, key: ObjectKey) -> Resource | None: ...
    def find(self, kind: type[R] | str, key: ObjectKey) -> R | Resource | None:
        model = kind_model(kind)
        doc = self._read_document(model.KIND, bk.storage_key(model.KIND, key.namespace, key.name))
        return None if doc is None else model.model_validate(doc)

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
        model = kind_model(kind)
        docs, revision = self._read_documents(model.KIND, namespace)
        wanted = tuple(selector)
        return ListResult(items=[model.model_validate(d) for d in docs if bk.labels_match(d, wanted)], revision=revision)

    # -- writes -------------------------------------------------------------------------------

    def _apply(self, tx: Transaction, kind: str, key: ObjectKey, change: bk.Change, revision: int) -> None:
        tx.record(kind, key, change, revision=revision)
        floor = bk.compaction_floor(revision, tx.compacted(), self._event_retention)
        if floor is not None:
            tx.compact(floor)

    def _stored(self, tx: Transaction, kind: str, key: ObjectKey) -> bk.Document:
        doc = tx.get(kind, key)
        if doc is None:
            raise NotFound(f"{bk.describe(kind, key)} not found")
        return doc

    def _check_fence(self, tx: Transaction, fence: leasing.Fence | None) -> None:
        if fence is not None:
            leasing.check_fence(tx.get_lease(fence.lease), fence, now=self._clock())

    def create(self, obj: R, *, fence: leasing.Fence | None = None) -> R:
        key = bk.key_of(obj)
        with self._transaction() as tx:
            self._check_fence(tx, fence)
            if tx.get(obj.kind, key) is not None:
                raise AlreadyExists(f"{bk.describe(obj.kind, key)} already exists: update it, or delete it first")
            revision = tx.revision() + 1
            change = bk.plan_create(obj, key, revision=revision, uid=str(uuid.uuid4()), now=now_rfc3339())
            self._apply(tx, obj.kind, key, change, revision)
        self._signal.publish(revision)
        return type(obj).model_validate(change.returned)

    def update(self, obj: R, *, fence: leasing.Fence | None = None) -> R:
        return self._replace(obj, bk.plan_update, fence)

    def update_status(self, obj: R, *, fence: leasing.Fence | None = None) -> R:
        return self._replace(obj, bk.plan_update_status, fence)

    def _replace(self, obj: R, plan: _Plan, fence: leasing.Fence | None) -> R:
        """An update of a stored object, planned by `plan` (spec and metadata, or status);
        a plan of None is a no-op write: nothing stored, no revision, no event."""
        key = bk.key_of(obj)
        with self._transaction() as tx:
            self._check_fence(tx, fence)
            stored = self._stored(tx, obj.kind, key)
            revision = tx.revision() + 1
            change = plan(stored, obj, key, revision=revision)
            if change is None:
                return type(obj).model_validate(stored)
            self._apply(tx, obj.kind, key, change, revision)
        self._signal.publish(revision)
        return type(obj).model_validate(change.returned)

    @overload
    def delete(
        self, kind: type[R], key: ObjectKey, *, resource_version: str | None = None, fence: leasing.Fence | None = None
    ) -> R: ...
    @overload
    def delete(
        self, kind: str, key: ObjectKey, *, resource_version: str | None = None, fence: leasing.Fence | None = None
    ) -> Resource: ...
    def delete(
        self,
        kind: type[R] | str,
        key: ObjectKey,
        *,
        resource_version: str | None = None,
        fence: leasing.Fence | None = None,
    ) -> R | Resource:
        model = kind_model(kind)
        name = model.KIND
        key = bk.storage_key(name, key.namespace, key.name)
        with self._transaction() as tx:
            self._check_fence(tx, fence)
            stored = self._stored(tx, name, key)
            revision = tx.revision() + 1
            change = bk.plan_delete(
                stored, name, key, revision=revision, now=now_rfc3339(), resource_version_=resource_version
            )
            if change is None:
                return model.model_validate(stored)
            self._apply(tx, name, key, change, revision)
        self._signal.publish(revision)
        return model.model_validate(change.returned)

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        with self._transaction() as tx:
            lease = leasing.next_lease(
                tx.get_lease(name), name=name, holder=holder, ttl_seconds=ttl_seconds, now=self._clock()
            )
            if lease is None:
                return False
            tx.put_lease(lease)
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction() as tx:
            lease = leasing.released(tx.get_lease(name), holder=holder)
            if lease is not None:
                tx.put_lease(lease)

    def take_budget(
        self, key: str, *, capacity: float, per_second: float, want: float, force: bool = False
    ) -> budgets.Grant:
        """Take up to `want` units from the shared budget `key` (all of it with `force`);
        see `store.budgets`."""
        with self._budget_transaction(key) as tx:
            after, grant = budgets.take(
                tx.get_budget(key), capacity=capacity, per_second=per_second, want=want, now=self._clock(), force=force
            )
            tx.put_budget(key, after)
        return grant

    def return_budget(self, key: str, *, capacity: float, per_second: float, amount: float) -> None:
        """Give unused units back to budget `key`."""
        with self._budget_transaction(key) as tx:
            tx.put_budget(
                key, budgets.give_back(tx.get_budget(key), capacity=capacity, per_second=per_second, amount=amount, now=self._clock())
            )

    def wait_for_revision(self, revision: int, timeout: float) -> int:
        return self._signal.wait(revision, timeout, self.revision)
