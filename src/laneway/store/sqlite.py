"""SqliteStore: the embedded default store, one SQLite file in WAL mode.

Durability. `journal_mode=WAL` with `synchronous=FULL`: every commit appends to the WAL and
fsyncs it before `create`/`update`/`delete` return. A process killed with SIGKILL at any moment
loses nothing it acknowledged (WAL with `synchronous=NORMAL` would already survive that, since
the OS keeps written pages), and FULL also keeps acknowledged writes across an OS crash or
power loss, at the price of one fsync per write: cheap at a control plane's write rate.

Concurrency. One connection per store, guarded by a lock, so the store is safe to call from
the asyncio loop's worker threads and from any other thread. Writes take `BEGIN IMMEDIATE`, so
several processes on the same file serialise their writes on SQLite's own lock (waiting up to
`busy_timeout` seconds) and the global revision stays one sequence. Reads that need a
consistent view (a list and its revision) run in one read transaction; WAL lets them proceed
while another process writes.

Watching. Writers in this process wake `wait_for_revision` at once; writes from another
process are noticed within `poll_interval` seconds (a single-row read).

Limits. One file on a local disk: SQLite's locking is not safe over NFS. Several processes may
share the file on one machine; for several machines, use PostgreSQL (`postgres.py`).
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.store import bookkeeping as bk
from laneway.store.base import Lease, StoreError, TokenRecord, WatchEvent
from laneway.store.budgets import Budget
from laneway.store.core import DEFAULT_EVENT_RETENTION, RecordStore

SCHEMA_VERSION = 2
DEFAULT_POLL_INTERVAL = 0.1
DEFAULT_BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_namespace ON objects (namespace);
CREATE TABLE IF NOT EXISTS owner_refs (
    owner_uid TEXT NOT NULL,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (owner_uid, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS owner_refs_by_uid ON owner_refs (uid);
CREATE TABLE IF NOT EXISTS events (
    revision INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, revision);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    transitions INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    namespaces TEXT NOT NULL,
    description TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL DEFAULT '',
    last_used TEXT NOT NULL DEFAULT '',
    revoked TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budgets (
    key TEXT PRIMARY KEY,
    level REAL NOT NULL,
    stamp REAL NOT NULL,
    capacity REAL NOT NULL
) WITHOUT ROWID;
"""

_TOKEN_COLUMNS_ADDED = ("expires", "last_used", "revoked")
"""Columns schema version 2 added to `tokens`; a version-1 file gains them on open."""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older file's tables up to this schema (inside the opening transaction)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(tokens)")}
    for column in _TOKEN_COLUMNS_ADDED:
        if column not in have:
            conn.execute(f"ALTER TABLE tokens ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


def migrate_file(path: Path) -> tuple[int, int]:
    """Bring a store file to this schema (opening does it); returns (before, after). A missing
    file is created, at version 0 before."""
    before = 0
    if path.exists():
        try:
            with sqlite3.connect(str(path)) as conn:
                before = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a usable laneway store: {exc}") from exc
    SqliteStore(path).close()
    return before, SCHEMA_VERSION



class _SqliteTransaction:
    """The `Transaction` of core.RecordStore over one open SQLite write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, kind: str, key: ObjectKey) -> bk.Document | None:
        row = self._conn.execute(
            "SELECT doc FROM objects WHERE kind = ? AND namespace = ? AND name = ?", (kind, key.namespace, key.name)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def revision(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])

    def compacted(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'compacted'").fetchone()[0])

    def record(self, kind: str, key: ObjectKey, change: bk.Change, *, revision: int) -> None:
        c = self._conn
        old = c.execute(
            "SELECT uid FROM objects WHERE kind = ? AND namespace = ? AND name = ?", (kind, key.namespace, key.name)
        ).fetchone()
        if old is not None:
            c.execute("DELETE FROM owner_refs WHERE uid = ?", (old[0],))
        if change.stored is None:
            c.execute(
                "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?", (kind, key.namespace, key.name)
            )
        else:
            uid = change.stored["metadata"]["uid"]
            c.execute(
                "INSERT OR REPLACE INTO objects (kind, namespace, name, uid, doc) VALUES (?, ?, ?, ?, ?)",
                (kind, key.namespace, key.name, uid, bk.dumps(change.stored)),
            )
            c.executemany(
                "INSERT OR IGNORE INTO owner_refs (owner_uid, uid, kind, namespace, name) VALUES (?, ?, ?, ?, ?)",
                [(owner, uid, kind, key.namespace, key.name) for owner in bk.owner_uids(change.stored)],
            )
        c.execute(
            "INSERT INTO events (revision, type, kind, doc) VALUES (?, ?, ?, ?)",
            (revision, change.event, kind, bk.dumps(change.returned)),
        )
        c.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (revision,))

    def compact(self, floor: int) -> None:
        self._conn.execute("DELETE FROM events WHERE revision <= ?", (floor,))
        self._conn.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'compacted'", (floor,))

    def get_lease(self, name: str) -> Lease | None:
        row = self._conn.execute(
            "SELECT name, holder, expires_at, transitions FROM leases WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else Lease(name=row[0], holder=row[1], expires_at=row[2], transitions=row[3])

    def put_lease(self, lease: Lease) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO leases (name, holder, expires_at, transitions) VALUES (?, ?, ?, ?)",
            (lease.name, lease.holder, lease.expires_at, lease.transitions),
        )

    def get_budget(self, key: str) -> Budget | None:
        row = self._conn.execute("SELECT level, stamp, capacity FROM budgets WHERE key = ?", (key,)).fetchone()
        return None if row is None else Budget(level=row[0], stamp=row[1], capacity=row[2])

    def put_budget(self, key: str, budget: Budget) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO budgets (key, level, stamp, capacity) VALUES (?, ?, ?, ?)",
            (key, budget.level, budget.stamp, budget.capacity),
        )


class SqliteStore(RecordStore):
    """The Store protocol over one SQLite file (created, with its directory, when missing)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        event_retention: int = DEFAULT_EVENT_RETENTION,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        super().__init__(clock=clock, event_retention=event_retention, poll_interval=poll_interval)
        self.path = Path(path)
        self._lock = threading.RLock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # The file holds Secrets and token hashes: readable by its owner only.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the store at {self.path}: {exc}; check that the directory exists and is writable"
            ) from exc
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            with self._transaction():
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store at {self.path} has schema version {version}, newer than this laneway "
                        f"understands ({SCHEMA_VERSION}): upgrade laneway"
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                _migrate(self._conn)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path} is not a usable laneway store: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    # -- transactions -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.path} is closed")

    @contextmanager
    def _transaction(self) -> Iterator[_SqliteTransaction]:
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTransaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot."""
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # -- reads --------------------------------------------------------------------------------

    def _read_document(self, kind: str, key: ObjectKey) -> bk.Document | None:
        with self._read() as c:
            return _SqliteTransaction(c).get(kind, key)

    def _read_documents(self, kind: str, namespace: str | None) -> tuple[builtins.list[bk.Document], int]:
        with self._read() as c:
            revision = _SqliteTransaction(c).revision()
            if namespace is None:
                rows = c.execute(
                    "SELECT doc FROM objects WHERE kind = ? ORDER BY namespace, name", (kind,)
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT doc FROM objects WHERE kind = ? AND namespace = ? ORDER BY name", (kind, namespace)
                ).fetchall()
        return [json.loads(r[0]) for r in rows], revision

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        with self._read() as c:
            rows = c.execute(
                "SELECT o.kind, o.doc FROM owner_refs r JOIN objects o ON o.uid = r.uid "
                "WHERE r.owner_uid = ? ORDER BY o.kind, o.namespace, o.name",
                (owner_uid,),
            ).fetchall()
        return [bk.parse(kind, json.loads(doc)) for kind, doc in rows]

    def exists_uid(self, uid: str) -> bool:
        with self._read() as c:
            return c.execute("SELECT 1 FROM objects WHERE uid = ?", (uid,)).fetchone() is not None

    def namespaces(self) -> builtins.list[str]:
        with self._read() as c:
            rows = c.execute(
                "SELECT DISTINCT namespace FROM objects WHERE namespace != '' ORDER BY namespace"
            ).fetchall()
        return [r[0] for r in rows]

    def revision(self) -> int:
        with self._lock:
            self._check_open()
            return int(self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])

    def events_since(
        self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> builtins.list[WatchEvent]:
        with self._read() as c:
            compacted = _SqliteTransaction(c).compacted()
            bk.check_retained(revision, compacted)
            if kinds is None:
                rows = c.execute(
                    "SELECT revision, type, kind, doc FROM events WHERE revision > ? ORDER BY revision LIMIT ?",
                    (revision, limit),
                ).fetchall()
            else:
                marks = ",".join("?" * len(kinds))
                rows = c.execute(
                    f"SELECT revision, type, kind, doc FROM events WHERE revision > ? AND kind IN ({marks}) "
                    "ORDER BY revision LIMIT ?",
                    (revision, *sorted(kinds), limit),
                ).fetchall()
        return [bk.event_of(row) for row in rows]

    # -- leases and tokens --------------------------------------------------------------------

    def get_lease(self, name: str) -> Lease | None:
        """The lease as stored (for status and debugging), or None when never taken."""
        with self._read() as c:
            return _SqliteTransaction(c).get_lease(name)

    def put_token(self, record: TokenRecord) -> None:
        created = record.created or now_rfc3339()
        with self._transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO tokens (token_sha256, role, namespaces, description, created, expires, "
                "last_used, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.token_sha256, record.role, json.dumps(list(record.namespaces)), record.description, created,
                 record.expires, record.last_used, record.revoked),
            )

    def find_token(self, token_sha256: str) -> TokenRecord | None:
        with self._read() as c:
            row = c.execute(f"{bk.TOKEN_SELECT} WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return None if row is None else bk.token_of(row)

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._read() as c:
            rows = c.execute(f"{bk.TOKEN_SELECT} ORDER BY created, token_sha256").fetchall()
        return [bk.token_of(r) for r in rows]

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        with self._transaction():
            cur = self._conn.execute(
                "UPDATE tokens SET revoked = ? WHERE token_sha256 = ? AND revoked = ''", (revoked, token_sha256)
            )
            return cur.rowcount > 0

    def touch_token(self, token_sha256: str, used: str) -> None:
        with self._transaction():
            self._conn.execute("UPDATE tokens SET last_used = ? WHERE token_sha256 = ?", (used, token_sha256))

    def delete_token(self, token_sha256: str) -> bool:
        """Forget a token record entirely; True when it existed."""
        with self._transaction():
            cur = self._conn.execute("DELETE FROM tokens WHERE token_sha256 = ?", (token_sha256,))
            return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


