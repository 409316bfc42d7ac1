"""Where a cache lives on a Local cluster, and the manifest that says it is whole.

The path contract with the local driver: `<data-dir>/cache/<cluster>/<namespace>/<cache>` is
what replicas get as `LANEWAY_MODEL_CACHE`. That directory appears only complete: files are
staged in a sibling `.<cache>.staging` directory and the whole directory is renamed into
place after every file is verified and the manifest `.laneway-cache.json` is written. So a
directory at the final path without a matching manifest never exists, and nothing half
written is ever Ready, across crashes included.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = ".laneway-cache.json"


def cache_path(cache_root: Path, *, cluster: str, namespace: str, name: str) -> Path:
    return cache_root / cluster / namespace / name


def staging_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.staging"


def lock_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.lock"


@dataclass(frozen=True)
class CacheManifest:
    fingerprint: str
    bytes: int
    files: int
    source: str


def read_manifest(dest: Path) -> CacheManifest | None:
    """The manifest of a staged cache, or None when nothing whole is there."""
    try:
        doc = json.loads((dest / MANIFEST).read_text())
        return CacheManifest(str(doc["fingerprint"]), int(doc["bytes"]), int(doc["files"]), str(doc.get("source", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_manifest(directory: Path, manifest: CacheManifest) -> None:
    path = directory / MANIFEST
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        json.dump(asdict(manifest), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def staged_bytes(dest: Path) -> int:
    """Bytes on disk in the staging directory (progress after a restart)."""
    total = 0
    for root, _, names in os.walk(staging_path(dest)):
        for n in names:
            try:
                total += os.stat(os.path.join(root, n)).st_size
            except OSError:
                pass
    return total
