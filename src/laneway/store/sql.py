"""The SQL both database backends share: tables, rows, statements and reads, written once.

SqliteStore and PostgresStore keep the same tables and run the same statements (upserts with
`ON CONFLICT`, which SQLite has had since 3.24). What differs between them is small and lives
in a `Dialect`: how a statement marks its parameters (sqlite3's `?`, psycopg's `%s`; statements
here are written with `?`), the column types of the DDL, and what a write does once its
revision is recorded (PostgreSQL notifies the other processes). What each backend keeps for
itself is how it holds a connection, how it makes a transaction atomic, and its schema's
migrations: `SqlStore` asks for those through three context managers.

`SqlTransaction` is `core.Transaction` over any connection inside an open write transaction;
`SqlStore` is the part of the Store protocol that is plain reads and token rows.
"""

from __future__ import annotations

import builtins
import functools
import json
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.store import bookkeeping as bk
from laneway.store.base import Lease, TokenRecord, WatchEvent
from laneway.store.budgets import Budget
from laneway.store.core import RecordStore


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


class Connection(Protocol):
    """What both drivers' connections offer: `sqlite3.Connection` and `psycopg.Connection`."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Cursor: ...


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the shared statements need."""

    name: str
    param: str
    """The parameter mark the driver takes in place of `?`."""
    integer: str
    real: str
    table_options: str
    """Appended to every CREATE TABLE with a primary key (SQLite's `WITHOUT ROWID`)."""
    notify: str | None = None
    """A statement run with the new revision in every write transaction, or None."""
    resource_version: str = "json_extract(doc, '$.metadata.resourceVersion')"
    """The expression that reads a stored document's resourceVersion without returning the doc."""

    def sql(self, text: str) -> str:
        """`text` (written with `?` marks) in this dialect."""
        return _marked(text, self.param)


@functools.cache
def _marked(text: str, param: str) -> str:
    return text if param == "?" else text.replace("?", param)


CHANNEL = "laneway_revision"
"""PostgreSQL's notification channel of new revisions (its store LISTENs on it)."""
SQLITE = Dialect("sqlite", "?", "INTEGER", "REAL", " WITHOUT ROWID")
POSTGRES = Dialect(
    "postgresql", "%s", "BIGINT", "DOUBLE PRECISION", "", notify=f"SELECT pg_notify('{CHANNEL}', ?)",
    resource_version="(doc::jsonb -> 'metadata' ->> 'resourceVersion')",
)

# -- tables ------------------------------------------------------------------------------------

_TABLES: dict[str, tuple[str, ...]] = {
    "meta": (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value {integer} NOT NULL){options}",
        "INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0) ON CONFLICT DO NOTHING",
    ),
    "objects": (
        "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
        "uid TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, PRIMARY KEY (kind, namespace, name)){options}",
        "CREATE INDEX IF NOT EXISTS objects_by_namespace ON objects (namespace)",
    ),
    "owner_refs": (
        "CREATE TABLE IF NOT EXISTS owner_refs (owner_uid TEXT NOT NULL, uid TEXT NOT NULL, kind TEXT NOT NULL, "
        "namespace TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (owner_uid, uid)){options}",
        "CREATE INDEX IF NOT EXISTS owner_refs_by_uid ON owner_refs (uid)",
    ),
    "events": (
        "CREATE TABLE IF NOT EXISTS events (revision {integer} PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL, "
        "doc TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, revision)",
    ),
    "leases": (
        "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at {real} NOT NULL, "
        "transitions {integer} NOT NULL){options}",
    ),
    "tokens": (
        "CREATE TABLE IF NOT EXISTS tokens (token_sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, namespaces TEXT NOT NULL, "
        "description TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL DEFAULT '', "
        "last_used TEXT NOT NULL DEFAULT '', revoked TEXT NOT NULL DEFAULT ''){options}",
    ),
    "budgets": (
        "CREATE TABLE IF NOT EXISTS budgets (key TEXT PRIMARY KEY, level {real} NOT NULL, stamp {real} NOT NULL, "
        "capacity {real} NOT NULL){options}",
    ),
}
"""Every table laneway keeps, with its indexes and first rows; idempotent statements.
(`events` keeps SQLite's rowid: its integer primary key is the rowid itself.)"""

TABLES = tuple(_TABLES)


def create_statements(dialect: Dialect, tables: Sequence[str] = TABLES) -> list[str]:
    """The statements that create `tables` (and their indexes) if they do not exist."""
    return [
        statement.format(integer=dialect.integer, real=dialect.real, options=dialect.table_options)
        for table in tables
        for statement in _TABLES[table]
    ]


# -- rows ----------------------------------------------------------------------------------------


def dumps(doc: bk.Document) -> str:
    """A document as the SQL backends store it: compact, keys sorted."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def event_of(row: Sequence[Any]) -> WatchEvent:
    """A stored event row (revision, type, kind, doc JSON) as a WatchEvent."""
    revision, type_, kind, doc = row
    return WatchEvent(type=type_, revision=int(revision), object=bk.parse(kind, json.loads(doc)))


def token_of(row: Sequence[Any]) -> TokenRecord:
    """A stored token row (in `TOKEN_SELECT`'s column order) as a TokenRecord."""
    return TokenRecord(
        token_sha256=row[0],
        role=row[1],
        namespaces=tuple(json.loads(row[2])),
        description=row[3],
        created=row[4],
        expires=row[5],
        last_used=row[6],
        revoked=row[7],
    )


TOKEN_SELECT = "SELECT token_sha256, role, namespaces, description, created, expires, last_used, revoked FROM tokens"
_OBJECT_KEY = "kind = ? AND namespace = ? AND name = ?"


class SqlTransaction:
    """The `Transaction` of core.RecordStore over one connection inside an open write
    transaction (the backend began it, and commits or rolls it back)."""

    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._d = dialect

    def _run(self, text: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(self._d.sql(text), params)

    def get(self, kind: str, key: ObjectKey) -> bk.Document | None:
        row = self._run(f"SELECT doc FROM objects WHERE {_OBJECT_KEY}", (kind, key.namespace, key.name)).fetchone()
        return None if row is None else json.loads(row[0])

    def _meta(self, key: str) -> int:
        row = self._run("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def revision(self) -> int:
        return self._meta("revision")

    def compacted(self) -> int:
        return self._meta("compacted")

    def record(self, kind: str, key: ObjectKey, change: bk.Change, *, revision: int) -> None:
        where = (kind, key.namespace, key.name)
        old = self._run(f"SELECT uid FROM objects WHERE {_OBJECT_KEY}", where).fetchone()
        if old is not None:
            self._run("DELETE FROM owner_refs WHERE uid = ?", (old[0],))
        if change.stored is None:
            self._run(f"DELETE FROM objects WHERE {_OBJECT_KEY}", where)
        else:
            uid = change.stored["metadata"]["uid"]
            self._run(
                "INSERT INTO objects (kind, namespace, name, uid, doc) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = excluded.uid, doc = excluded.doc",
                (*where, uid, dumps(change.stored)),
            )
            for owner in bk.owner_uids(change.stored):
                self._run(
                    "INSERT INTO owner_refs (owner_uid, uid, kind, namespace, name) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (owner, uid, *where),
                )
        self._run(
            "INSERT INTO events (revision, type, kind, doc) VALUES (?, ?, ?, ?)",
            (revision, change.event, kind, dumps(change.returned)),
        )
        self._run("UPDATE meta SET value = ? WHERE key = 'revision'", (revision,))
        if self._d.notify is not None:
            self._run(self._d.notify, (str(revision),))

    def compact(self, floor: int) -> None:
        self._run("DELETE FROM events WHERE revision <= ?", (floor,))
        self._run("UPDATE meta SET value = ? WHERE key = 'compacted' AND value < ?", (floor, floor))

    def get_lease(self, name: str) -> Lease | None:
        row = self._run("SELECT name, holder, expires_at, transitions FROM leases WHERE name = ?", (name,)).fetchone()
        return None if row is None else Lease(name=row[0], holder=row[1], expires_at=float(row[2]), transitions=int(row[3]))

    def put_lease(self, lease: Lease) -> None:
        self._run(
            "INSERT INTO leases (name, holder, expires_at, transitions) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, transitions = excluded.transitions",
            (lease.name, lease.holder, lease.expires_at, lease.transitions),
        )

    def get_budget(self, key: str) -> Budget | None:
        row = self._run("SELECT level, stamp, capacity FROM budgets WHERE key = ?", (key,)).fetchone()
        return None if row is None else Budget(level=float(row[0]), stamp=float(row[1]), capacity=float(row[2]))

    def put_budget(self, key: str, budget: Budget) -> None:
        self._run(
            "INSERT INTO budgets (key, level, stamp, capacity) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
            "SET level = excluded.level, stamp = excluded.stamp, capacity = excluded.capacity",
            (key, budget.level, budget.stamp, budget.capacity),
        )


class SqlStore(RecordStore):
    """Reads and token rows of the Store protocol over the shared tables. A backend provides the
    dialect and three ways to hold a connection (see each method)."""

    dialect: Dialect

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[Connection]:
        """A read transaction: every statement inside sees one committed state."""

    @abstractmethod
    def _query(self) -> AbstractContextManager[Connection]:
        """A connection for one read statement (a backend may give a snapshot)."""

    @abstractmethod
    def _token_write(self) -> AbstractContextManager[Connection]:
        """A short write transaction for token rows (committed on normal exit)."""

    def _rows(self, conn: Connection) -> SqlTransaction:
        return SqlTransaction(conn, self.dialect)

    def _read_document(self, kind: str, key: ObjectKey) -> bk.Document | None:
        with self._query() as c:
            return self._rows(c).get(kind, key)

    def _read_documents(self, kind: str, namespace: str | None) -> tuple[builtins.list[bk.Document], int]:
        sql = self.dialect.sql
        with self._snapshot() as c:
            revision = self._rows(c).revision()
            if namespace is None:
                rows = c.execute(sql("SELECT doc FROM objects WHERE kind = ? ORDER BY namespace, name"), (kind,)).fetchall()
            else:
                rows = c.execute(
                    sql("SELECT doc FROM objects WHERE kind = ? AND namespace = ? ORDER BY name"), (kind, namespace)
                ).fetchall()
        return [json.loads(r[0]) for r in rows], revision

    def resource_versions(self, kind: str) -> dict[ObjectKey, int]:
        with self._query() as c:
            rows = c.execute(
                self.dialect.sql(f"SELECT namespace, name, {self.dialect.resource_version} FROM objects WHERE kind = ?"), (kind,)
            ).fetchall()
        return {ObjectKey(ns, name): int(version) for ns, name, version in rows}

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        with self._query() as c:
            rows = c.execute(
                self.dialect.sql(
                    "SELECT o.kind, o.doc FROM owner_refs r JOIN objects o ON o.uid = r.uid "
                    "WHERE r.owner_uid = ? ORDER BY o.kind, o.namespace, o.name"
                ),
                (owner_uid,),
            ).fetchall()
        return [bk.parse(kind, json.loads(doc)) for kind, doc in rows]

    def exists_uid(self, uid: str) -> bool:
        with self._query() as c:
            return c.execute(self.dialect.sql("SELECT 1 FROM objects WHERE uid = ?"), (uid,)).fetchone() is not None

    def namespaces(self) -> builtins.list[str]:
        with self._query() as c:
            rows = c.execute("SELECT DISTINCT namespace FROM objects WHERE namespace != '' ORDER BY namespace").fetchall()
        return [r[0] for r in rows]

    def revision(self) -> int:
        with self._query() as c:
            return self._rows(c).revision()

    def events_since(
        self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> builtins.list[WatchEvent]:
        with self._snapshot() as c:
            bk.check_retained(revision, self._rows(c).compacted())
            if kinds is None:
                query = "SELECT revision, type, kind, doc FROM events WHERE revision > ? ORDER BY revision LIMIT ?"
                params: tuple[Any, ...] = (revision, limit)
            else:
                marks = ",".join("?" * len(kinds))
                query = (f"SELECT revision, type, kind, doc FROM events WHERE revision > ? AND kind IN ({marks}) "
                         "ORDER BY revision LIMIT ?")
                params = (revision, *sorted(kinds), limit)
            rows = c.execute(self.dialect.sql(query), params).fetchall()
        return [event_of(row) for row in rows]

    def get_lease(self, name: str) -> Lease | None:
        """The lease as stored (for status and debugging), or None when never taken."""
        with self._query() as c:
            return self._rows(c).get_lease(name)

    def put_token(self, record: TokenRecord) -> None:
        created = record.created or now_rfc3339()
        with self._token_write() as c:
            c.execute(
                self.dialect.sql(
                    "INSERT INTO tokens (token_sha256, role, namespaces, description, created, expires, last_used, revoked) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token_sha256) DO UPDATE SET role = excluded.role, "
                    "namespaces = excluded.namespaces, description = excluded.description, created = excluded.created, "
                    "expires = excluded.expires, last_used = excluded.last_used, revoked = excluded.revoked"
                ),
                (record.token_sha256, record.role, json.dumps(list(record.namespaces)), record.description, created,
                 record.expires, record.last_used, record.revoked),
            )

    def find_token(self, token_sha256: str) -> TokenRecord | None:
        with self._query() as c:
            row = c.execute(self.dialect.sql(f"{TOKEN_SELECT} WHERE token_sha256 = ?"), (token_sha256,)).fetchone()
        return None if row is None else token_of(row)

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._query() as c:
            rows = c.execute(f"{TOKEN_SELECT} ORDER BY created, token_sha256").fetchall()
        return [token_of(r) for r in rows]

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        with self._token_write() as c:
            cur = c.execute(
                self.dialect.sql("UPDATE tokens SET revoked = ? WHERE token_sha256 = ? AND revoked = ''"),
                (revoked, token_sha256),
            )
            return cur.rowcount > 0

    def touch_token(self, token_sha256: str, used: str) -> None:
        with self._token_write() as c:
            c.execute(self.dialect.sql("UPDATE tokens SET last_used = ? WHERE token_sha256 = ?"), (used, token_sha256))

    def delete_token(self, token_sha256: str) -> bool:
        """Forget a token record entirely; True when it existed."""
        with self._token_write() as c:
            cur = c.execute(self.dialect.sql("DELETE FROM tokens WHERE token_sha256 = ?"), (token_sha256,))
            return cur.rowcount > 0
