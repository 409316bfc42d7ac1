"""Local source: weights already on this machine (a file or a directory), copied resumably.

Copying rather than linking keeps the cache independent of the original: the user may move
or delete the source after the cache is Ready, and every replica reads the same staged copy.

The path is a team's, and this machine is the platform's: a Local source is read only under
the roots the platform allowed on the cluster (`spec.cluster.local.cacheRoots`). The path,
every file found under it, and every file actually opened (checked again on the open file
descriptor, so a symlink swapped in between is caught) must resolve inside a root. A refusal
says only that the path is outside the allowed roots: not whether it exists, not its size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.errors import OutsideCacheRoots, SourceInvalid, SourceUnavailable
from laneway.cache.sources.base import CHUNK_BYTES, Opened, RemoteFile, check_relative


def cache_roots(cluster: InferenceCluster) -> list[str]:
    """The directories a Local source may be read from on this cluster (none: no Local sources)."""
    local = cluster.spec.cluster.local or cluster.spec.cluster.machines  # a machine's agent reads its own disk
    return list(local.cache_roots) if local is not None else []


def within(path: str, roots: Sequence[str]) -> bool:
    """Whether `path`, resolved through symlinks, lies inside one of `roots` (also resolved)."""
    real = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip("/") + "/"):
            return True
    return False


class LocalPathSource:
    def __init__(self, path: str | os.PathLike[str], *, roots: Sequence[str] | None = None, cluster: str = "") -> None:
        self.path = Path(path)
        self.roots = None if roots is None else tuple(roots)
        """The allowed roots; None only where no platform decides (a direct call in code)."""
        self.cluster = cluster

    def describe(self) -> str:
        return str(self.path)

    def fingerprint(self) -> str:
        return f"local:{self.path}"

    def _refusal(self) -> OutsideCacheRoots:
        where = f"InferenceCluster {self.cluster!r}" if self.cluster else "the cluster"
        allowed = ", ".join(self.roots or ()) or "none"
        return OutsideCacheRoots(
            f"local path {self.path} is outside the cache roots the platform allowed on {where} "
            f"(spec.cluster.local.cacheRoots: {allowed}); use a path under one of them, or the platform adds a root"
        )

    def check_roots(self, path: str | os.PathLike[str] | None = None) -> None:
        """Raise OutsideCacheRoots unless `path` (default: the source's path) is inside a root."""
        if self.roots is not None and not within(str(path if path is not None else self.path), self.roots):
            raise self._refusal()

    def files(self) -> list[RemoteFile]:
        self.check_roots()
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
                self.check_roots(full)
                rel = full.relative_to(self.path).as_posix()
                out.append(RemoteFile(path=check_relative(rel, where=str(self.path)), size=full.stat().st_size, locator=str(full)))
        if not out:
            raise SourceInvalid(f"local path {self.path} is an empty directory; put the model's files there")
        return out

    @contextmanager
    def open(self, file: RemoteFile, offset: int) -> Iterator[Opened]:
        try:
            handle = open(file.locator, "rb")  # noqa: SIM115 - closed by the `with` below; opened apart so a refusal to open is told apart
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {file.locator}: {exc.strerror}") from None
        with handle:
            if self.roots is not None and not within(os.readlink(f"/proc/self/fd/{handle.fileno()}"), self.roots):
                raise self._refusal()
            handle.seek(offset)
            yield Opened(start=offset, total=file.size, chunks=_read(handle))


def _read(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK_BYTES):
        yield chunk
