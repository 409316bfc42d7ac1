"""Local source: weights already on this machine (a file or a directory), copied resumably.

Copying rather than linking keeps the cache independent of the original: the user may move
or delete the source after the cache is Ready, and every replica reads the same staged copy.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from laneway.cache.errors import SourceInvalid, SourceUnavailable
from laneway.cache.sources.base import CHUNK_BYTES, Opened, RemoteFile, check_relative


class LocalPathSource:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def fingerprint(self) -> str:
        return f"local:{self.path}"

    def files(self) -> list[RemoteFile]:
        if self.path.is_file():
            return [RemoteFile(path=self.path.name, size=self.path.stat().st_size, locator=str(self.path))]
        if not self.path.exists():
            raise SourceUnavailable(f"local path {self.path} does not exist on this machine; create it or fix spec.local.path")
        if not self.path.is_dir():
            raise SourceInvalid(f"local path {self.path} is neither a file nor a directory")
        out = []
        for root, dirs, names in os.walk(self.path):
            dirs.sort()
            for name in sorted(names):
                full = Path(root) / name
                rel = full.relative_to(self.path).as_posix()
                out.append(RemoteFile(path=check_relative(rel, where=str(self.path)), size=full.stat().st_size, locator=str(full)))
        if not out:
            raise SourceInvalid(f"local path {self.path} is an empty directory; put the model's files there")
        return out

    @contextmanager
    def open(self, file: RemoteFile, offset: int) -> Iterator[Opened]:
        try:
            handle = open(file.locator, "rb")
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {file.locator}: {exc.strerror}") from None
        with handle:
            handle.seek(offset)
            yield Opened(start=offset, total=file.size, chunks=_read(handle))


def _read(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK_BYTES):
        yield chunk
