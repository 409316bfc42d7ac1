"""MemoryStore: the Store protocol in memory, for fast tests of controllers and placement.

It shares its write path with SqliteStore (`core.RecordStore`, `bookkeeping`, `leasing`), so
uid, generation, resourceVersion, conflicts, finalizers, events and compaction behave the
same; the same contract test suite runs against both. It keeps nothing across processes or
restarts and is safe to use from several threads (one lock around every operation).
"""

from __future__ import annotations

import bisect
import builtins
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.store import bookkeeping as bk
from laneway.store.base import Lease, TokenRecord, WatchEvent
from laneway.store.budgets import Budget
from laneway.store.core import DEFAULT_EVENT_RETENTION, RecordStore


@dataclass
class _State:
    objects: dict[tuple[str, str, str], bk.Document] = field(default_factory=dict)
    events: list[tuple[int, str, str, bk.Document]] = field(default_factory=list)
    revision: int = 0
    compacted: int = 0
    leases: dict[str, Lease] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    budgets: dict[str, Budget] = field(default_factory=dict)


class _MemoryTransaction:
    """Writes straight into the state under the store's lock. Atomic because the shared write
    path raises (conflicts, bad input) before it records anything, and recording cannot fail."""

    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, kind: str, key: ObjectKey) -> bk.Document | None:
        return self._s.objects.get((kind, key.namespace, key.name))

    def revision(self) -> int:
        return self._s.revision

    def compacted(self) -> int:
        return self._s.compacted

    def record(self, kind: str, key: ObjectKey, change: bk.Change, *, revision: int) -> None:
        if change.stored is None:
            self._s.objects.pop((kind, key.namespace, key.name), None)
        else:
            self._s.objects[(kind, key.namespace, key.name)] = change.stored
        self._s.events.append((revision, change.event, kind, change.returned))
        self._s.revision = revision

    def compact(self, floor: int) -> None:
        cut = bisect.bisect_right(self._s.events, floor, key=lambda e: e[0])
        del self._s.events[:cut]
        self._s.compacted = max(self._s.compacted, floor)

    def get_lease(self, name: str) -> Lease | None:
        return self._s.leases.get(name)

    def put_lease(self, lease: Lease) -> None:
        self._s.leases[lease.name] = lease

    def get_budget(self, key: str) -> Budget | None:
        return self._s.budgets.get(key)

    def put_budget(self, key: str, budget: Budget) -> None:
        self._s.budgets[key] = budget


class MemoryStore(RecordStore):
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        event_retention: int = DEFAULT_EVENT_RETENTION,
    ) -> None:
        super().__init__(clock=clock, event_retention=event_retention, poll_interval=None)
        self._lock = threading.RLock()
        self._state = _State()

    @contextmanager
    def _transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            yield _MemoryTransaction(self._state)

    def _read_document(self, kind: str, key: ObjectKey) -> bk.Document | None:
        with self._lock:
            return self._state.objects.get((kind, key.namespace, key.name))

    def _read_documents(self, kind: str, namespace: str | None) -> tuple[builtins.list[bk.Document], int]:
        with self._lock:
            docs = [
                doc
                for (k, ns, _), doc in sorted(self._state.objects.items())
                if k == kind and (namespace is None or ns == namespace)
            ]
            return docs, self._state.revision

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        with self._lock:
            found = [
                (k, doc) for (k, _, _), doc in sorted(self._state.objects.items()) if owner_uid in bk.owner_uids(doc)
            ]
        return [bk.parse(k, doc) for k, doc in found]

    def exists_uid(self, uid: str) -> bool:
        with self._lock:
            return any(doc["metadata"].get("uid") == uid for doc in self._state.objects.values())

    def namespaces(self) -> builtins.list[str]:
        with self._lock:
            return sorted({ns for (_, ns, _) in self._state.objects if ns})

    def revision(self) -> int:
        with self._lock:
            return self._state.revision

    def events_since(
        self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> builtins.list[WatchEvent]:
        with self._lock:
            bk.check_retained(revision, self._state.compacted)
            start = bisect.bisect_right(self._state.events, revision, key=lambda e: e[0])
            picked: list[tuple[int, str, str, bk.Document]] = []
            for event in self._state.events[start:]:
                if kinds is None or event[2] in kinds:
                    picked.append(event)
                    if len(picked) >= limit:
                        break
        return [
            WatchEvent(type=t, revision=r, object=bk.parse(k, d))  # type: ignore[arg-type]
            for r, t, k, d in picked
        ]

    def get_lease(self, name: str) -> Lease | None:
        """The lease as stored (for status and debugging), or None when never taken."""
        with self._lock:
            return self._state.leases.get(name)

    def put_token(self, record: TokenRecord) -> None:
        if not record.created:
            record = dataclasses.replace(record, created=now_rfc3339())
        with self._lock:
            self._state.tokens[record.token_sha256] = record

    def find_token(self, token_sha256: str) -> TokenRecord | None:
        with self._lock:
            return self._state.tokens.get(token_sha256)

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._lock:
            return sorted(self._state.tokens.values(), key=lambda r: (r.created, r.token_sha256))

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        with self._lock:
            record = self._state.tokens.get(token_sha256)
            if record is None or record.revoked:
                return False
            self._state.tokens[token_sha256] = dataclasses.replace(record, revoked=revoked)
            return True

    def touch_token(self, token_sha256: str, used: str) -> None:
        with self._lock:
            record = self._state.tokens.get(token_sha256)
            if record is not None:
                self._state.tokens[token_sha256] = dataclasses.replace(record, last_used=used)

    def delete_token(self, token_sha256: str) -> bool:
        """Forget a token record entirely; True when it existed."""
        with self._lock:
            return self._state.tokens.pop(token_sha256, None) is not None

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""
