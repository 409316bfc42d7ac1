"""PostgresStore: the shared store, for several control-plane processes on several machines.

Selected by a `postgresql://user:password@host:port/database` target (psycopg 3 connection
string; `?sslmode=...` and the other libpq parameters pass through).

Consistency. Every write runs in one transaction that first locks the single `revision` row
(`SELECT ... FOR UPDATE`): writers from every process serialise on it, so the global revision
is one sequence, an event's revision order is its commit order, and a reader that sees
revision R sees every event up to R. The resourceVersion check of `bookkeeping` runs inside
that transaction, so optimistic concurrency holds across processes: a stale write gets
`Conflict` whichever process made the newer one. Reads that need one snapshot (a list and its
revision) run in a REPEATABLE READ READ ONLY transaction and never wait for writers.

Durability. A write returns after COMMIT, which PostgreSQL acknowledges only once the WAL
record is flushed (`synchronous_commit=on`, the server default): a killed laneway process or
a killed database server loses nothing laneway acknowledged.

Watching. Each write's transaction calls `pg_notify('laneway_revision', <revision>)`, which
PostgreSQL delivers to every listener when it commits. One listener thread per store holds a
connection in `LISTEN` and wakes this process's `wait_for_revision` at once; a slow poll
(`poll_interval`) remains only as a safety net for the moments the listener reconnects.

Schema. Tables are created and migrated by laneway (`migrate`, `laneway store migrate`), under
a transaction-scoped advisory lock so processes starting together do not race; the version is
recorded in `laneway_schema`. A store opened on an older schema migrates it; a newer one is
refused with a message to upgrade laneway.

Connections. A small pool per store (`pool_size`), created lazily; a connection that broke
(the server restarted) is dropped and replaced on the next call. While the server is
unreachable every call raises `StoreUnavailable` (a 503), which callers such as the gateway
treat as "keep the last good view".
"""

from __future__ import annotations

import builtins
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from laneway.api.meta import ObjectKey, Resource, now_rfc3339
from laneway.store import bookkeeping as bk
from laneway.store.base import (
    Lease,
    StoreError,
    StoreUnavailable,
    TokenRecord,
    WatchEvent,
)
from laneway.store.budgets import Budget
from laneway.store.core import DEFAULT_EVENT_RETENTION, RecordStore

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DEFAULT_POOL_SIZE = 8
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_CONNECT_TIMEOUT = 10
CHANNEL = "laneway_revision"
_MIGRATION_LOCK = 0x6C616E65  # "lane": pg_advisory_xact_lock key for schema changes

_MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX IF NOT EXISTS objects_by_namespace ON objects (namespace);
CREATE TABLE IF NOT EXISTS owner_refs (
    owner_uid TEXT NOT NULL,
    uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (owner_uid, uid)
);
CREATE INDEX IF NOT EXISTS owner_refs_by_uid ON owner_refs (uid);
CREATE TABLE IF NOT EXISTS events (
    revision BIGINT PRIMARY KEY,
    type TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, revision);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    transitions BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    namespaces TEXT NOT NULL,
    description TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL DEFAULT '',
    last_used TEXT NOT NULL DEFAULT '',
    revoked TEXT NOT NULL DEFAULT ''
);
""",
    2: """
CREATE TABLE IF NOT EXISTS budgets (
    key TEXT PRIMARY KEY,
    level DOUBLE PRECISION NOT NULL,
    stamp DOUBLE PRECISION NOT NULL,
    capacity DOUBLE PRECISION NOT NULL
);
""",
}
"""Each version's DDL, applied in order from the recorded version; idempotent statements."""



def redacted(dsn: str) -> str:
    """The DSN with any password replaced, for messages and logs (rule 8)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))



def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a main dependency
        raise StoreError("the PostgreSQL store needs psycopg 3: pip install 'psycopg[binary]'") from exc
    return psycopg


@contextmanager
def _errors(dsn: str) -> Iterator[None]:
    """psycopg's errors as the store's: unreachable is StoreUnavailable, the rest StoreError."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"the PostgreSQL store at {redacted(dsn)} is unavailable: {str(exc).strip()}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"the PostgreSQL store at {redacted(dsn)} failed: {str(exc).strip()}") from exc


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version recorded in this database, 0 when laneway never set it up."""
    exists = conn.execute("SELECT to_regclass('laneway_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT version FROM laneway_schema WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: psycopg.Connection[Any], *, target: int = SCHEMA_VERSION) -> tuple[int, int]:
    """Bring the database's schema to `target` in one transaction; returns (before, after).
    Refuses a database whose schema is newer than this laneway knows."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS laneway_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
        before = schema_version(conn)
        if before > target:
            raise StoreError(
                f"the database has laneway schema version {before}, newer than this laneway understands "
                f"({target}): upgrade laneway"
            )
        for version in range(before + 1, target + 1):
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(
            "INSERT INTO laneway_schema (id, version) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
            (target,),
        )
    return before, target


def migrate_target(dsn: str) -> tuple[int, int]:
    """`migrate` on the database a DSN names (what `laneway store migrate` runs)."""
    psycopg = _psycopg()
    with _errors(dsn):
        with psycopg.connect(dsn, autocommit=True, connect_timeout=DEFAULT_CONNECT_TIMEOUT) as conn:
            return migrate(conn)


class _PgTransaction:
    """The `Transaction` of core.RecordStore over one open PostgreSQL write transaction that
    holds the revision row's lock."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def get(self, kind: str, key: ObjectKey) -> bk.Document | None:
        row = self._conn.execute(
            "SELECT doc FROM objects WHERE kind = %s AND namespace = %s AND name = %s", (kind, key.namespace, key.name)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def revision(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    def compacted(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'compacted'").fetchone()
        return int(row[0]) if row else 0

    def record(self, kind: str, key: ObjectKey, change: bk.Change, *, revision: int) -> None:
        c = self._conn
        old = c.execute(
            "SELECT uid FROM objects WHERE kind = %s AND namespace = %s AND name = %s", (kind, key.namespace, key.name)
        ).fetchone()
        if old is not None:
            c.execute("DELETE FROM owner_refs WHERE uid = %s", (old[0],))
        if change.stored is None:
            c.execute(
                "DELETE FROM objects WHERE kind = %s AND namespace = %s AND name = %s", (kind, key.namespace, key.name)
            )
        else:
            uid = change.stored["metadata"]["uid"]
            c.execute(
                "INSERT INTO objects (kind, namespace, name, uid, doc) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = EXCLUDED.uid, doc = EXCLUDED.doc",
                (kind, key.namespace, key.name, uid, bk.dumps(change.stored)),
            )
            owners = [(owner, uid, kind, key.namespace, key.name) for owner in bk.owner_uids(change.stored)]
            if owners:
                with c.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO owner_refs (owner_uid, uid, kind, namespace, name) VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        owners,
                    )
        c.execute(
            "INSERT INTO events (revision, type, kind, doc) VALUES (%s, %s, %s, %s)",
            (revision, change.event, kind, bk.dumps(change.returned)),
        )
        c.execute("UPDATE meta SET value = %s WHERE key = 'revision'", (revision,))
        c.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(revision)))

    def compact(self, floor: int) -> None:
        self._conn.execute("DELETE FROM events WHERE revision <= %s", (floor,))
        self._conn.execute("UPDATE meta SET value = GREATEST(value, %s) WHERE key = 'compacted'", (floor,))

    def get_lease(self, name: str) -> Lease | None:
        row = self._conn.execute(
            "SELECT name, holder, expires_at, transitions FROM leases WHERE name = %s", (name,)
        ).fetchone()
        return None if row is None else Lease(name=row[0], holder=row[1], expires_at=float(row[2]), transitions=int(row[3]))

    def put_lease(self, lease: Lease) -> None:
        self._conn.execute(
            "INSERT INTO leases (name, holder, expires_at, transitions) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, "
            "transitions = EXCLUDED.transitions",
            (lease.name, lease.holder, lease.expires_at, lease.transitions),
        )

    def get_budget(self, key: str) -> Budget | None:
        row = self._conn.execute("SELECT level, stamp, capacity FROM budgets WHERE key = %s", (key,)).fetchone()
        return None if row is None else Budget(level=float(row[0]), stamp=float(row[1]), capacity=float(row[2]))

    def put_budget(self, key: str, budget: Budget) -> None:
        self._conn.execute(
            "INSERT INTO budgets (key, level, stamp, capacity) VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE "
            "SET level = EXCLUDED.level, stamp = EXCLUDED.stamp, capacity = EXCLUDED.capacity",
            (key, budget.level, budget.stamp, budget.capacity),
        )


class PostgresStore(RecordStore):
    """The Store protocol over one PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        dsn: str,
        *,
        clock: Callable[[], float] = time.time,
        event_retention: int = DEFAULT_EVENT_RETENTION,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        listen: bool = True,
        auto_migrate: bool = True,
    ) -> None:
        super().__init__(clock=clock, event_retention=event_retention, poll_interval=poll_interval)
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self.dsn = dsn
        self._connect_timeout = connect_timeout
        self._pool: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None
        with self._connection() as conn, _errors(dsn):
            if auto_migrate:
                migrate(conn)
            else:
                found = schema_version(conn)
                if found != SCHEMA_VERSION:
                    raise StoreError(
                        f"the database at {redacted(dsn)} has laneway schema version {found}, this laneway needs "
                        f"{SCHEMA_VERSION}: run `laneway store migrate --store URL`"
                    )
        if listen:
            self._listener = threading.Thread(target=self._listen, name="laneway-pg-listen", daemon=True)
            self._listener.start()

    # -- connections --------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        psycopg = _psycopg()
        with _errors(self.dsn):
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=self._connect_timeout)  # type: ignore[no-any-return]

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; dropped instead of returned when it broke or was left in a
        transaction."""
        if self._closed.is_set():
            raise StoreError(f"the store at {redacted(self.dsn)} is closed")
        self._slots.acquire()
        conn: psycopg.Connection[Any] | None = None
        try:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            yield conn
        finally:
            if conn is not None:
                healthy = not conn.closed and not conn.broken and conn.info.transaction_status == 0  # IDLE
                if healthy and not self._closed.is_set():
                    self._pool.put(conn)
                else:
                    conn.close()
            self._slots.release()

    @contextmanager
    def _transaction(self) -> Iterator[_PgTransaction]:
        with self._connection() as conn, _errors(self.dsn):
            with conn.transaction():
                conn.execute("SELECT value FROM meta WHERE key = 'revision' FOR UPDATE")
                yield _PgTransaction(conn)

    @contextmanager
    def _budget_transaction(self, key: str) -> Iterator[_PgTransaction]:
        """Takers of one budget serialise on its row alone, never on the revision row that
        every object write takes: limits do not slow the API down, nor the API the limits."""
        with self._connection() as conn, _errors(self.dsn):
            with conn.transaction():
                # A placeholder row first (capacity -1 reads as "new": a full bucket), so the
                # very first takers of a key also queue on one row instead of both inserting.
                conn.execute(
                    "INSERT INTO budgets (key, level, stamp, capacity) VALUES (%s, 0, 0, -1) ON CONFLICT DO NOTHING", (key,)
                )
                conn.execute("SELECT 1 FROM budgets WHERE key = %s FOR UPDATE", (key,))
                yield _PgTransaction(conn)

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        """A read-only snapshot: every query inside sees the same committed state."""
        with self._connection() as conn, _errors(self.dsn):
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("COMMIT")

    # -- watching -----------------------------------------------------------------------------

    def _listen(self) -> None:
        """Follow NOTIFY on the revision channel and wake local waiters; reconnect on failure."""
        backoff = 0.5
        while not self._closed.is_set():
            try:
                conn = self._connect()
            except StoreError:
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            try:
                with conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Anything committed while no listener ran: wake waiters so they re-read.
                    self._signal.publish(self._current_revision(conn))
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=1.0):
                            try:
                                self._signal.publish(int(note.payload))
                            except ValueError:
                                continue
            except Exception as exc:  # a dropped connection: reconnect after a pause
                if not self._closed.is_set():
                    log.warning("PostgreSQL store: lost the LISTEN connection (%s); reconnecting", str(exc).strip())
                    self._closed.wait(backoff)

    @staticmethod
    def _current_revision(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    # -- reads --------------------------------------------------------------------------------

    def _read_document(self, kind: str, key: ObjectKey) -> bk.Document | None:
        with self._connection() as conn, _errors(self.dsn):
            return _PgTransaction(conn).get(kind, key)

    def _read_documents(self, kind: str, namespace: str | None) -> tuple[builtins.list[bk.Document], int]:
        with self._read() as c:
            revision = self._current_revision(c)
            if namespace is None:
                rows = c.execute("SELECT doc FROM objects WHERE kind = %s ORDER BY namespace, name", (kind,)).fetchall()
            else:
                rows = c.execute(
                    "SELECT doc FROM objects WHERE kind = %s AND namespace = %s ORDER BY name", (kind, namespace)
                ).fetchall()
        return [json.loads(r[0]) for r in rows], revision

    def dependents(self, owner_uid: str) -> builtins.list[Resource]:
        with self._connection() as c, _errors(self.dsn):
            rows = c.execute(
                "SELECT o.kind, o.doc FROM owner_refs r JOIN objects o ON o.uid = r.uid "
                "WHERE r.owner_uid = %s ORDER BY o.kind, o.namespace, o.name",
                (owner_uid,),
            ).fetchall()
        return [bk.parse(kind, json.loads(doc)) for kind, doc in rows]

    def exists_uid(self, uid: str) -> bool:
        with self._connection() as c, _errors(self.dsn):
            return c.execute("SELECT 1 FROM objects WHERE uid = %s", (uid,)).fetchone() is not None

    def namespaces(self) -> builtins.list[str]:
        with self._connection() as c, _errors(self.dsn):
            rows = c.execute("SELECT DISTINCT namespace FROM objects WHERE namespace != '' ORDER BY namespace").fetchall()
        return [r[0] for r in rows]

    def revision(self) -> int:
        with self._connection() as c, _errors(self.dsn):
            return self._current_revision(c)

    def events_since(
        self, revision: int, *, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> builtins.list[WatchEvent]:
        with self._read() as c:
            compacted = _PgTransaction(c).compacted()
            bk.check_retained(revision, compacted)
            if kinds is None:
                rows = c.execute(
                    "SELECT revision, type, kind, doc FROM events WHERE revision > %s ORDER BY revision LIMIT %s",
                    (revision, limit),
                ).fetchall()
            else:
                rows = c.execute(
                    "SELECT revision, type, kind, doc FROM events WHERE revision > %s AND kind = ANY(%s) "
                    "ORDER BY revision LIMIT %s",
                    (revision, sorted(kinds), limit),
                ).fetchall()
        return [bk.event_of(row) for row in rows]

    # -- leases and tokens --------------------------------------------------------------------

    def get_lease(self, name: str) -> Lease | None:
        """The lease as stored (for status and debugging), or None when never taken."""
        with self._connection() as c, _errors(self.dsn):
            return _PgTransaction(c).get_lease(name)

    @contextmanager
    def _tokens(self) -> Iterator[psycopg.Connection[Any]]:
        """A short transaction over the tokens table (it does not take the revision lock)."""
        with self._connection() as conn, _errors(self.dsn):
            with conn.transaction():
                yield conn

    def put_token(self, record: TokenRecord) -> None:
        created = record.created or now_rfc3339()
        with self._tokens() as c:
            c.execute(
                "INSERT INTO tokens (token_sha256, role, namespaces, description, created, expires, last_used, revoked) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (token_sha256) DO UPDATE SET "
                "role = EXCLUDED.role, namespaces = EXCLUDED.namespaces, description = EXCLUDED.description, "
                "created = EXCLUDED.created, expires = EXCLUDED.expires, last_used = EXCLUDED.last_used, "
                "revoked = EXCLUDED.revoked",
                (record.token_sha256, record.role, json.dumps(list(record.namespaces)), record.description, created,
                 record.expires, record.last_used, record.revoked),
            )

    def find_token(self, token_sha256: str) -> TokenRecord | None:
        with self._connection() as c, _errors(self.dsn):
            row = c.execute(f"{bk.TOKEN_SELECT} WHERE token_sha256 = %s", (token_sha256,)).fetchone()
        return None if row is None else bk.token_of(row)

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._connection() as c, _errors(self.dsn):
            rows = c.execute(f"{bk.TOKEN_SELECT} ORDER BY created, token_sha256").fetchall()
        return [bk.token_of(r) for r in rows]

    def revoke_token(self, token_sha256: str, revoked: str) -> bool:
        with self._tokens() as c:
            cur = c.execute(
                "UPDATE tokens SET revoked = %s WHERE token_sha256 = %s AND revoked = ''", (revoked, token_sha256)
            )
            return cur.rowcount > 0

    def touch_token(self, token_sha256: str, used: str) -> None:
        with self._tokens() as c:
            c.execute("UPDATE tokens SET last_used = %s WHERE token_sha256 = %s", (used, token_sha256))

    def delete_token(self, token_sha256: str) -> bool:
        """Forget a token record entirely; True when it existed."""
        with self._tokens() as c:
            cur = c.execute("DELETE FROM tokens WHERE token_sha256 = %s", (token_sha256,))
            return cur.rowcount > 0

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._listener is not None:
            self._listener.join(timeout=5.0)
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break


