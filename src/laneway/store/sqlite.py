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

Tables and statements are those of every SQL backend (`sql.py`); this module keeps the file,
its one connection and its transactions.

Limits. One file on a local disk: SQLite's locking is not safe over NFS. Several processes may
share the file on one machine; for several machines, use PostgreSQL (`postgres.py`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from laneway.store.base import StoreError
from laneway.store.core import DEFAULT_EVENT_RETENTION
from laneway.store.sql import SQLITE, SqlStore, SqlTransaction, create_statements

SCHEMA_VERSION = 2
DEFAULT_POLL_INTERVAL = 0.1
DEFAULT_BUSY_TIMEOUT = 30.0

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



class SqliteStore(SqlStore):
    """The Store protocol over one SQLite file (created, with its directory, when missing)."""

    dialect = SQLITE

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
                for statement in create_statements(SQLITE):
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
    def _transaction(self) -> Iterator[SqlTransaction]:
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqlTransaction(self._conn, SQLITE)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot."""
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def _query(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._snapshot()

    @contextmanager
    def _token_write(self) -> Iterator[sqlite3.Connection]:
        with self._transaction():
            yield self._conn

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


