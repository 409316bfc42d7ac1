"""Cluster sources by the name a manifest uses (`spec.cluster.source`), and the drivers for them.

A source registers itself by name with `register_source`: how to build its driver in this
process, and, when it can stage caches without a running driver (Local files), how to build
that standalone stager. The built-in sources register in their own packages
(`drivers/local/source.py` for `Local`, `drivers/kubernetes/source.py` for `Existing`), which
this registry imports the first time a source is looked up; a new source (a simulated fleet,
machines joined by an agent, a cloud whose clusters a provisioner creates) is one more module
calling `register_source`, listed in `SOURCE_MODULES`, and its name added to
`ClusterSourceKind` so manifests may name it. Nothing here names a source.

One DriverSet per control-plane process owns every driver instance, so shutting it down
stops everything the drivers started.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.base import CacheStager, Driver, StandaloneStager

if TYPE_CHECKING:
    from laneway.store.base import Store

SOURCE_MODULES: tuple[str, ...] = (
    "laneway.drivers.local.source",
    "laneway.drivers.kubernetes.source",
    "laneway.drivers.simulated.source",
    "laneway.drivers.machines.source",
    "laneway.drivers.provisioners.source",
)
"""The modules whose import registers the built-in sources."""


@dataclass(frozen=True)
class DriverContext:
    """What a driver may need from the process that runs it."""

    logs_dir: Path
    cache_dir: Path | None = None
    data_dir: Path | None = None  # what engines must not see; the parent of logs_dir when not given
    store: Store | None = None  # where cluster credentials (kubeconfig Secrets) are read from


@dataclass(frozen=True)
class StagerContext:
    """What a standalone cache stager needs: where caches live, how long a failure waits."""

    cache_dir: Path | None
    retry_after: float
    clock: Callable[[], float] = time.time


DriverFactory = Callable[[DriverContext], "Driver | None"]
"""Builds a source's driver; None when this process lacks what it needs (a store, say)."""
StagerFactory = Callable[[StagerContext], StandaloneStager]


@dataclass(frozen=True)
class SourceEntry:
    name: str
    driver: DriverFactory
    standalone_stager: StagerFactory | None = None


class DuplicateSource(ValueError):
    """Two modules registered different drivers under one source name."""


_sources: dict[str, SourceEntry] = {}
_loaded = False
_load_lock = threading.Lock()


def register_source(name: str, *, driver: DriverFactory, standalone_stager: StagerFactory | None = None) -> None:
    """Register the cluster source `name` (as a manifest spells it, e.g. "Local"). Registering
    the same entry twice (a module imported again) is a no-op; another entry under a taken
    name is an error."""
    entry = SourceEntry(name=name, driver=driver, standalone_stager=standalone_stager)
    current = _sources.get(name)
    if current is not None and current != entry:
        raise DuplicateSource(f"cluster source {name!r} is registered twice; give the new source another name")
    _sources[name] = entry


def _load_builtins() -> None:
    global _loaded
    with _load_lock:
        if not _loaded:
            for module in SOURCE_MODULES:
                importlib.import_module(module)
            _loaded = True


def source_entry(name: str) -> SourceEntry | None:
    """The registered source of this name, or None when this build has none."""
    _load_builtins()
    return _sources.get(name)


def source_names() -> list[str]:
    """Every registered source name, sorted."""
    _load_builtins()
    return sorted(_sources)


def standalone_stagers(context: StagerContext) -> dict[str, StandaloneStager]:
    """One standalone cache stager per source that has one, by source name."""
    _load_builtins()
    return {name: e.standalone_stager(context) for name, e in sorted(_sources.items()) if e.standalone_stager is not None}


@dataclass
class DriverSet:
    logs_dir: Path
    cache_dir: Path | None = None
    data_dir: Path | None = None  # what engines must not see; the parent of logs_dir when not given
    store: Store | None = None  # the Existing (Kubernetes) driver reads kubeconfig Secrets from it
    _drivers: dict[str, Driver] = field(default_factory=dict)

    def context(self) -> DriverContext:
        return DriverContext(logs_dir=self.logs_dir, cache_dir=self.cache_dir, data_dir=self.data_dir, store=self.store)

    def for_cluster(self, cluster: InferenceCluster) -> Driver | None:
        """The driver for this cluster's source, or None when this build (or this process)
        has none for it."""
        source = cluster.spec.cluster.source
        if source not in self._drivers:
            entry = source_entry(source)
            driver = entry.driver(self.context()) if entry is not None else None
            if driver is None:
                return None
            self._drivers[source] = driver
        return self._drivers[source]

    def cache_stager(self, cluster: InferenceCluster) -> CacheStager | None:
        """The cluster's driver when it stages caches (see `CacheStager`), else None."""
        driver = self.for_cluster(cluster)
        return driver if isinstance(driver, CacheStager) else None

    def active(self) -> list[Driver]:
        """The drivers this process has started: what may still run a replica whose cluster is gone."""
        return list(self._drivers.values())

    async def close(self) -> None:
        for d in self._drivers.values():
            await d.close()
        self._drivers.clear()
