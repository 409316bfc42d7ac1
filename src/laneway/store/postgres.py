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

Tables and statements are those of every SQL backend (`sql.py`); this module keeps the
connections, the transactions (and their locks), the listener and the migrations.

Connections. A small pool per store (`pool_size`), created lazily; a connection that broke
(the server restarted) is dropped and replaced on the next call. While the server is
unreachable every call raises `StoreUnavailable` (a 503), which callers such as the gateway
treat as "keep the last good view".
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from laneway.store.base import StoreError, StoreUnavailable
from laneway.store.core import DEFAULT_EVENT_RETENTION
from laneway.store.sql import CHANNEL, POSTGRES, SqlStore, SqlTransaction, create_statements

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DEFAULT_POOL_SIZE = 8
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_CONNECT_TIMEOUT = 10
_MIGRATION_LOCK = 0x6C616E65  # "lane": pg_advisory_xact_lock key for schema changes

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("meta", "objects", "owner_refs", "events", "leases", "tokens"),
    2: ("budgets",),
}
"""The tables each schema version added (`sql.create_statements`), applied in order from the
recorded version; idempotent statements."""


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
            for statement in create_statements(POSTGRES, _MIGRATIONS[version]):
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


class PostgresStore(SqlStore):
    """The Store protocol over one PostgreSQL database (see the module docstring)."""

    dialect = POSTGRES

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
    def _transaction(self) -> Iterator[SqlTransaction]:
        with self._connection() as conn, _errors(self.dsn):
            with conn.transaction():
                conn.execute("SELECT value FROM meta WHERE key = 'revision' FOR UPDATE")
                yield SqlTransaction(conn, POSTGRES)

    @contextmanager
    def _budget_transaction(self, key: str) -> Iterator[SqlTransaction]:
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
                yield SqlTransaction(conn, POSTGRES)

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[Any]]:
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
                    self._signal.publish(self._rows(conn).revision())
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

    @contextmanager
    def _query(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit: one statement needs no snapshot of its own."""
        with self._connection() as conn, _errors(self.dsn):
            yield conn

    @contextmanager
    def _token_write(self) -> Iterator[psycopg.Connection[Any]]:
        """A short transaction over the tokens table (it does not take the revision lock)."""
        with self._connection() as conn, _errors(self.dsn):
            with conn.transaction():
                yield conn

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


