"""The Store protocol: the one source of truth every other part reads and writes.

Guarantees every backend keeps:
- every write bumps one global revision; an object's resourceVersion is the revision of its
  last write, so a write carrying a stale resourceVersion fails with `Conflict`;
- `generation` starts at 1 and moves only when the spec (for a Secret, its data) changes;
- `delete` of an object with finalizers only sets `deletionTimestamp`; the object goes when
  an update leaves its finalizer list empty;
- the revision stream (`events_since`) replays every write in order; a revision older than
  what the backend retains raises `Gone`, and the watcher must list again;
- an acknowledged write survives the process being killed at any moment.

The store does not validate specs (callers hand it typed, validated resources) and does not
cascade deletions itself: the garbage collector in `control/` deletes dependents whose owners
are gone, as Kubernetes does.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar, overload

from laneway.api.meta import ObjectKey, Resource
from laneway.api.selectors import Requirement

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class StoreError(Exception):
    """Base of the errors a Store raises; each maps onto one HTTP status in the API."""

    status = 500
    reason = "InternalError"


class NotFound(StoreError):
    status = 404
    reason = "NotFound"


class AlreadyExists(StoreError):
    status = 409
    reason = "AlreadyExists"


class Conflict(StoreError):
    status = 409
    reason = "Conflict"


class Invalid(StoreError):
    """A write the store cannot accept as given (a namespaced object without a namespace, a new
    finalizer on an object being deleted); the message says what to change."""

    status = 422
    reason = "Invalid"


class Gone(StoreError):
    """The requested revision was compacted away; list again and watch from the list's revision."""

    status = 410
    reason = "Expired"


class StoreUnavailable(StoreError):
    """The store cannot be reached now (a database restarting, a partition); the same call may
    succeed once it is back. Readers that can live on what they last read (the gateway's
    routing table) keep doing so."""

    status = 503
    reason = "ServiceUnavailable"


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    revision: int
    object: Resource


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class ListResult(Generic[R]):
    """Objects of one kind and the revision the list is consistent at (where a watch resumes)."""

    items: list[R]
    revision: int


@dataclass(frozen=True)
class TokenRecord:
    """A bearer token's grant. Only the token's SHA-256 is stored, never the token.

    Times are RFC 3339 strings in UTC, "" when unset: `expires` (never, when unset),
    `last_used` (recorded at most once a minute), `revoked` (a revoked record is kept, so a
    listing shows what was revoked and when, and a revoked token can never come back).

    Two roles belong to machines that join a Machines cluster (`drivers/machines/credentials.py`)
    and open no door of the API: `join` (one use, scoped by `namespaces` to its cluster) and
    `machine` (an agent's credential, scoped to `(cluster, machine)`)."""

    token_sha256: str
    role: Literal["admin", "platform", "team", "join", "machine"]
    namespaces: tuple[str, ...] = ()
    description: str = ""
    created: str = ""
    expires: str = ""
    last_used: str = ""
    revoked: str = ""


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_at: float
    transitions: int = field(default=0)


class Store(Protocol):
    """The store, typed by kind: `get(ModelReplica, key)` returns a ModelReplica.

    Every read and delete takes the kind as its model class. A kind name (`"ModelReplica"`)
    is still accepted for callers that hold only a name (the API server resolves names
    through `api.registry` and passes the class); it returns the base `Resource`.
    """

    def create(self, obj: R) -> R:
        """Store a new object: assigns uid, generation 1, resourceVersion, creationTimestamp.
        Raises AlreadyExists."""

    @overload
    def get(self, kind: type[R], key: ObjectKey) -> R: ...
    @overload
    def get(self, kind: str, key: ObjectKey) -> Resource: ...
    def get(self, kind: type[R] | str, key: ObjectKey) -> R | Resource:
        """Raises NotFound."""

    @overload
    def find(self, kind: type[R], key: ObjectKey) -> R | None: ...
    @overload
    def find(self, kind: str, key: ObjectKey) -> Resource | None: ...
    def find(self, kind: type[R] | str, key: ObjectKey) -> R | Resource | None:
        """The object, or None when it is not stored: a lookup that can miss, for callers to
        whom absence is an ordinary answer."""

    @overload
    def list(
        self, kind: type[R], *, namespace: str | None = None, selector: Sequence[Requirement] = ()
    ) -> ListResult[R]: ...
    @overload
    def list(
        self, kind: str, *, namespace: str | None = None, selector: Sequence[Requirement] = ()
    ) -> ListResult[Resource]: ...
    def list(
        self,
        kind: type[R] | str,
        *,
        namespace: str | None = None,
        selector: Sequence[Requirement] = (),
    ) -> ListResult[R] | ListResult[Resource]:
        """Objects of a kind, in one namespace or all (None), filtered by label requirements,
        sorted by (namespace, name), with the revision the list is consistent at."""

    def update(self, obj: R) -> R:
        """Replace metadata (labels, annotations, finalizers, ownerReferences) and spec; status
        is kept as stored. Checks resourceVersion when the object carries one. Finishes a
        pending deletion when no finalizer is left. Raises NotFound, Conflict."""

    def update_status(self, obj: R) -> R:
        """Replace status only. Checks resourceVersion when the object carries one."""

    @overload
    def delete(self, kind: type[R], key: ObjectKey, *, resource_version: str | None = None) -> R: ...
    @overload
    def delete(self, kind: str, key: ObjectKey, *, resource_version: str | None = None) -> Resource: ...
    def delete(self, kind: type[R] | str, key: ObjectKey, *, resource_version: str | None = None) -> R | Resource:
        """Delete now, or mark deletionTimestamp when finalizers remain. Returns the object as
        last stored. Raises NotFound, Conflict."""

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        """Objects that list `owner_uid` among their ownerReferences."""

    def exists_uid(self, uid: str) -> bool:
        """Whether an object with this uid is stored (the garbage collector's question)."""

    def resource_versions(self, kind: str) -> dict[ObjectKey, int]:
        """Every stored object of `kind` by key, with its resourceVersion and nothing else: what
        the controller manager's resync compares against what its watch delivered, without
        reading (or validating) a single document."""

    def namespaces(self) -> builtins.list[str]:
        """Namespaces holding at least one object: a namespace exists once something is in it."""

    def revision(self) -> int:
        """The current global revision."""

    def events_since(self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000) -> builtins.list[WatchEvent]:
        """Writes after `revision`, oldest first. Raises Gone when `revision` is compacted."""

    def wait_for_revision(self, revision: int, timeout: float) -> int:
        """Block until the revision passes `revision` or `timeout` seconds go by; returns the current revision."""

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew a lease; True while `holder` holds it."""

    def release_lease(self, name: str, holder: str) -> None: ...

    def get_lease(self, name: str) -> Lease | None:
        """The lease as stored (expired or not), or None when never taken."""

    def put_token(self, record: TokenRecord) -> None: ...

    def find_token(self, token_sha256: str) -> TokenRecord | None: ...

    def list_tokens(self) -> builtins.list[TokenRecord]: ...

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        """Mark the token revoked at `revoked` (RFC 3339); True when it existed and was not
        revoked already. Atomic, so a concurrent `touch_token` cannot undo it."""

    def touch_token(self, token_sha256: str, used: str) -> None:
        """Record that the token was used at `used`; changes nothing else of the record."""

    def close(self) -> None: ...

