"""The store: laneway's one source of truth (see `base.py` for the protocol and its guarantees).

`open_store(target)` opens the backend a target names: a filesystem path or `sqlite:///path`
opens the embedded SQLite store; `postgresql://...` (or `postgres://...`) opens the shared
PostgreSQL store (`postgres.py`) that several control-plane processes use at once.
`MemoryStore` (in `memory.py`) serves tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from laneway.store.base import (
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    Lease,
    ListResult,
    NotFound,
    Store,
    StoreError,
    StoreUnavailable,
    TokenRecord,
    WatchEvent,
)

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


class UnsupportedStore(StoreError):
    """A store target this laneway cannot open; the message names what it can."""

    status = 400
    reason = "BadRequest"


def store_path(target: str | os.PathLike[str]) -> Path:
    """The SQLite file a target names, or UnsupportedStore for any other kind of target."""
    if isinstance(target, os.PathLike):
        return Path(target)
    text = str(target).strip()
    if not text:
        raise UnsupportedStore("the store target is empty: give a file path or 'sqlite:///path/to/laneway.db'")
    if is_postgres(text):
        raise UnsupportedStore(f"{kind_of(text)} store targets name no file: open them with open_store")
    if text.startswith("postgresql+"):
        raise UnsupportedStore(
            f"store target scheme {text.split('://', 1)[0]!r} is SQLAlchemy's spelling: write 'postgresql://user@host:5432/db'"
        )
    if text.startswith(_SQLITE_PREFIX):
        path = text[len(_SQLITE_PREFIX) :]
        if not path:
            raise UnsupportedStore(f"store target {text!r} names no file: write 'sqlite:///path/to/laneway.db'")
        # sqlite:////abs/path and sqlite:///rel/path, as SQLAlchemy spells them.
        return Path(path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UnsupportedStore(
            f"store target {scheme!r}:// is not a store laneway knows: use a file path, "
            "'sqlite:///path/to/laneway.db' or 'postgresql://user:password@host:5432/database'"
        )
    return Path(text).expanduser()


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """Whether a target names a PostgreSQL database rather than a SQLite file."""
    return not isinstance(target, os.PathLike) and str(target).strip().startswith(_POSTGRES_PREFIXES)


def kind_of(target: str | os.PathLike[str]) -> str:
    return "PostgreSQL" if is_postgres(target) else "SQLite"


def describe_target(target: str | os.PathLike[str]) -> str:
    """The target as it may be printed: a PostgreSQL DSN without its password."""
    if is_postgres(target):
        from laneway.store.postgres import redacted

        return redacted(str(target).strip())
    return str(store_path(target))


def open_store(target: str | os.PathLike[str]) -> Store:
    """Open the store a target names (see the module docstring)."""
    if is_postgres(target):
        from laneway.store.postgres import PostgresStore

        return PostgresStore(str(target).strip())
    from laneway.store.sqlite import SqliteStore

    return SqliteStore(store_path(target))


__all__ = [
    "AlreadyExists",
    "Conflict",
    "Gone",
    "Invalid",
    "Lease",
    "ListResult",
    "NotFound",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TokenRecord",
    "UnsupportedStore",
    "WatchEvent",
    "describe_target",
    "is_postgres",
    "open_store",
    "store_path",
]
