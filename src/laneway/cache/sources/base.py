"""What a cache source is to the hydrator: a listing of files and ranged reads of each.

Every source (Hugging Face, S3, HTTP, a local path) is reduced to the same two calls, so the
resumable, verified download lives once in `laneway.cache.hydrate` and each source is only
the I/O it needs. A source promises what it can about each file (size, SHA-256, MD5) and the
hydrator checks every promise before a file counts as done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from laneway.cache.errors import SourceInvalid

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source. `path` is relative to the cache root and '/'-separated."""

    path: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    locator: str = ""
    """Where the source finds the bytes (a URL, an object key); opaque to the hydrator."""


@dataclass
class Opened:
    """A read in progress: bytes from `start` on (a source that cannot seek starts at 0)."""

    start: int
    total: int | None
    chunks: Iterator[bytes]


class Source(Protocol):
    def describe(self) -> str:
        """Where the weights come from, for status messages ('s3://bucket/prefix')."""

    def fingerprint(self) -> str:
        """What identifies the content: a cache staged from another fingerprint is stale."""

    def files(self) -> list[RemoteFile]:
        """Every file to stage. Raises SourceUnavailable or SourceInvalid."""

    def open(self, file: RemoteFile, offset: int) -> AbstractContextManager[Opened]:
        """Read `file` from `offset` (or from 0 when the source cannot resume)."""


def check_relative(path: str, *, where: str) -> str:
    """A listed path must stay inside the cache: no absolute paths, no '..', no empty parts."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise SourceInvalid(f"{where} lists {path!r}, which is not a plain relative file path; laneway will not write outside the cache")
    if parts[-1].endswith(".part") or parts[-1].startswith(".laneway"):
        raise SourceInvalid(f"{where} lists {path!r}; names ending in '.part' or starting with '.laneway' are reserved by the cache")
    return path
