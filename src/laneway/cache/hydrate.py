"""Stage a source into a cache directory: resumable, verified, and atomic.

`hydrate(source, dest)` downloads each listed file into the staging directory as
`<file>.part`, appending from where an earlier (interrupted) attempt stopped, checks the
file's size and whatever checksum the source promised (SHA-256, MD5), then renames it to its
name. When every file is done it writes the manifest and renames the staging directory to
`dest` (see `layout`). A verification failure deletes the part so the next try starts that
file over; an interruption keeps it so the next try resumes.

One hydration per destination at a time: an exclusive `flock` on a sibling lock file, so two
controller processes (or a restarted one) never write the same files at once.

It is blocking I/O; the controller runs it in a thread. `Progress` is how that thread reports
bytes to the reconcile loop.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from laneway.cache.errors import CacheError, VerificationFailed
from laneway.cache.layout import MANIFEST, CacheManifest, lock_path, read_manifest, staging_path, write_manifest
from laneway.cache.sources.base import RemoteFile, Source

_HASH_READ = 1 << 20


class Progress:
    """Bytes staged so far and the total when known; written by one thread, read by another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done = 0
        self.total: int | None = None

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n

    def set(self, *, done: int | None = None, total: int | None = None) -> None:
        with self._lock:
            if done is not None:
                self.done = done
            if total is not None:
                self.total = total


@dataclass(frozen=True)
class HydrationResult:
    manifest: CacheManifest
    already_ready: bool


class _Digests:
    def __init__(self, file: RemoteFile) -> None:
        self.sha256 = hashlib.sha256() if file.sha256 else None
        self.md5 = hashlib.md5(usedforsecurity=False) if file.md5 else None

    def update(self, data: bytes) -> None:
        if self.sha256 is not None:
            self.sha256.update(data)
        if self.md5 is not None:
            self.md5.update(data)

    def prime(self, part: Path) -> None:
        """Resuming: the bytes already on disk count towards the checksums."""
        if self.sha256 is None and self.md5 is None:
            return
        with open(part, "rb") as fh:
            while chunk := fh.read(_HASH_READ):
                self.update(chunk)


def _verify(file: RemoteFile, part: Path, size: int, total: int | None, digests: _Digests, where: str) -> None:
    expected = file.size if file.size is not None else total
    problems = []
    if expected is not None and size != expected:
        problems.append(f"size is {size} bytes, the source says {expected}")
    if digests.sha256 is not None and file.sha256 and digests.sha256.hexdigest() != file.sha256.lower():
        problems.append(f"SHA-256 is {digests.sha256.hexdigest()}, expected {file.sha256.lower()}")
    if digests.md5 is not None and file.md5 and digests.md5.hexdigest() != file.md5.lower():
        problems.append(f"MD5 is {digests.md5.hexdigest()}, expected {file.md5.lower()} (the object's ETag)")
    if problems:
        part.unlink(missing_ok=True)
        raise VerificationFailed(
            f"{file.path} from {where}: " + "; ".join(problems)
            + "; the partial file was removed and the next attempt downloads it again"
            + (" (if the file changed on purpose, update the ModelCache's checksum)" if file.sha256 else "")
        )


def _stage_file(source: Source, file: RemoteFile, staging: Path, progress: Progress) -> int:
    final = staging / file.path
    if final.exists() and (file.size is None or final.stat().st_size == file.size):
        size = final.stat().st_size
        progress.add(size)
        return size
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if file.size is not None and offset > file.size:
        part.unlink()
        offset = 0
    with source.open(file, offset) as opened:
        if opened.start != offset:
            # The source could not resume: start the file over.
            with open(part, "wb"):
                pass
            offset = opened.start
        digests = _Digests(file)
        if offset:
            digests.prime(part)
        progress.add(offset)
        written = offset
        with open(part, "ab") as fh:
            for chunk in opened.chunks:
                fh.write(chunk)
                digests.update(chunk)
                written += len(chunk)
                progress.add(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        _verify(file, part, written, opened.total, digests, source.describe())
    os.replace(part, final)
    return written


def hydrate(source: Source, dest: Path, *, progress: Progress | None = None, in_place: bool = False) -> HydrationResult:
    """Stage `source` at `dest` (see the module docstring). Raises CacheError subclasses.

    `in_place` stages straight into `dest` (a mounted volume's root, which cannot be renamed):
    the manifest, written last, is then the only mark of a whole cache."""
    progress = progress or Progress()
    fingerprint = source.fingerprint()
    current = read_manifest(dest)
    if current is not None and current.fingerprint == fingerprint:
        progress.set(done=current.bytes, total=current.bytes)
        return HydrationResult(current, already_ready=True)
    if in_place and current is not None:
        (dest / MANIFEST).unlink()  # another spec's files: no longer whole for this one
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(dest), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        current = read_manifest(dest)  # another holder may have finished while we waited
        if current is not None and current.fingerprint == fingerprint:
            progress.set(done=current.bytes, total=current.bytes)
            return HydrationResult(current, already_ready=True)
        staging = dest if in_place else staging_path(dest)
        staged = None if in_place else read_manifest(staging)
        if staged is not None and staged.fingerprint != fingerprint:
            shutil.rmtree(staging)  # a finished staging of an older spec: start clean
        staging.mkdir(parents=True, exist_ok=True)
        files = source.files()
        known = [f.size for f in files]
        progress.set(done=0, total=sum(s for s in known if s is not None) if all(s is not None for s in known) else None)
        total = sum(_stage_file(source, f, staging, progress) for f in files)
        manifest = CacheManifest(fingerprint=fingerprint, bytes=total, files=len(files), source=source.describe())
        write_manifest(staging, manifest)
        if not in_place:
            swap_in(staging, dest)
        progress.set(done=total, total=total)
        return HydrationResult(manifest, already_ready=False)


def swap_in(staging: Path, dest: Path) -> None:
    """Replace `dest` by the finished staging directory; the old copy is removed afterwards."""
    old = dest.parent / f".{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def remove(dest: Path) -> None:
    """Delete a cache and its staging leftovers (the cache was deleted or no longer selects the cluster)."""
    for path in (dest, staging_path(dest), dest.parent / f".{dest.name}.old"):
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
    lock_path(dest).unlink(missing_ok=True)


__all__ = ["CacheError", "HydrationResult", "Progress", "hydrate", "remove", "swap_in"]
