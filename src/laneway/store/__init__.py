"""The store: laneway's one source of truth (see `base.py` for the protocol and its guarantees).

`open_store(target)` opens the backend a target names: a filesystem path or `sqlite:///path`
opens the embedded SQLite store; `postgresql://...` is reserved for the shared backend, which
is not built yet. `MemoryStore` (in `memory.py`) serves tests.
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
    TokenRecord,
    WatchEvent,
)

_SQLITE_PREFIX = "sqlite:///"


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
    if text.startswith(("postgresql://", "postgres://", "postgresql+")):
        raise UnsupportedStore(
            "PostgreSQL stores are not yet supported: use the embedded SQLite store "
            "(a file path or 'sqlite:///path/to/laneway.db')"
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
            f"store target {text!r} has an unknown scheme {scheme!r}: use a file path or 'sqlite:///path/to/laneway.db'"
        )
    return Path(text).expanduser()


def open_store(target: str | os.PathLike[str]) -> Store:
    """Open the store a target names (see the module docstring)."""
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
    "TokenRecord",
    "UnsupportedStore",
    "WatchEvent",
    "open_store",
    "store_path",
]
