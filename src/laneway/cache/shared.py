"""One copy of the same weights per machine: the shared store the Local clusters reference.

Several Local clusters on one machine (a laptop fleet of three) would otherwise fetch and keep
one copy each of a cache they all need. Instead a Local cluster's copy is staged once at
`<cache-dir>/.shared/<namespace>/<digest of the source's fingerprint>` and each cluster's
directory (`layout.cache_path`, what engines mount as `LANEWAY_MODEL_CACHE`) is a *reference*:
the same tree with every file hard-linked to the shared one, so it costs no disk and needs no
second fetch. Hard links rather than a symlink: an engine sandbox that binds only the
cluster's directory sees real files; where the filesystem cannot link, the file is copied.

The store is addressed by what identifies the content (`Source.fingerprint`: the URL and its
checksum, the repository at its revision, the bucket and key), and scoped by namespace on
purpose: a fingerprint does not include the credential that fetched it, so sharing across
namespaces would hand one team's private weights to another that merely named the same
repository (DESIGN rule 10). Within a namespace every cache belongs to the same team.

A shared copy is removed when no cluster references it any more (`unreferenced`): the
references are found on disk, by their manifests, so a restarted control plane agrees.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from laneway.cache.hydrate import swap_in
from laneway.cache.layout import MANIFEST, read_manifest, staging_path

SHARED_DIR = ".shared"
"""Under the cache directory; a cluster name is a DNS label, so it can never be one."""


def shared_path(cache_root: Path, *, namespace: str, fingerprint: str) -> Path:
    """Where the one copy of `fingerprint`'s content for `namespace` lives."""
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    return cache_root / SHARED_DIR / namespace / digest


def is_whole(directory: Path, fingerprint: str) -> bool:
    """Whether `directory` holds the finished copy of `fingerprint` (its manifest says so)."""
    manifest = read_manifest(directory)
    return manifest is not None and manifest.fingerprint == fingerprint


def link_reference(shared: Path, dest: Path) -> None:
    """Make `dest` a reference to the whole copy at `shared`: the same tree, files hard-linked
    (copied where the filesystem refuses a link). Built in `dest`'s staging directory and
    swapped in whole, manifest included, so a half-made reference is never Ready."""
    staging = staging_path(dest)
    if staging.exists():
        shutil.rmtree(staging)
    for root, _dirs, files in os.walk(shared):
        target = staging / Path(root).relative_to(shared)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(files, key=lambda n: n == MANIFEST):  # the manifest last
            try:
                os.link(Path(root) / name, target / name)
            except OSError:
                shutil.copy2(Path(root) / name, target / name)
    swap_in(staging, dest)


def references(cache_root: Path, *, namespace: str, fingerprint: str) -> list[Path]:
    """Every cluster's directory in `namespace` that holds `fingerprint`'s content."""
    found = []
    for cluster in sorted(cache_root.iterdir()) if cache_root.is_dir() else ():
        if cluster.name.startswith(".") or not (cluster / namespace).is_dir():
            continue
        found += [d for d in sorted((cluster / namespace).iterdir()) if not d.name.startswith(".") and is_whole(d, fingerprint)]
    return found


def unreferenced(cache_root: Path, *, namespace: str, fingerprint: str) -> bool:
    return not references(cache_root, namespace=namespace, fingerprint=fingerprint)
