"""Drivers by the cluster source a manifest names (`Local`, `Existing`, ...).

One DriverSet per control-plane process owns every driver instance, so shutting it down
stops everything the drivers started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.base import Driver

if TYPE_CHECKING:
    from laneway.store.base import Store


@dataclass
class DriverSet:
    logs_dir: Path
    cache_dir: Path | None = None
    data_dir: Path | None = None  # what engines must not see; the parent of logs_dir when not given
    store: "Store | None" = None  # the Existing (Kubernetes) driver reads kubeconfig Secrets from it
    _drivers: dict[str, Driver] = field(default_factory=dict)

    def factories(self) -> dict[str, Callable[[], Driver]]:
        from laneway.drivers.local.driver import LocalDriver

        factories: dict[str, Callable[[], Driver]] = {
            "Local": lambda: LocalDriver(logs_dir=self.logs_dir, cache_dir=self.cache_dir, data_dir=self.data_dir)
        }
        if self.store is not None:
            store = self.store

            def kubernetes() -> Driver:
                from laneway.drivers.kubernetes.driver import KubernetesDriver

                return KubernetesDriver(store=store)

            factories["Existing"] = kubernetes
        return factories

    def for_cluster(self, cluster: InferenceCluster) -> Driver | None:
        """The driver for this cluster's source, or None when this build has none for it."""
        source = cluster.spec.cluster.source
        if source not in self._drivers:
            factory = self.factories().get(source)
            if factory is None:
                return None
            self._drivers[source] = factory()
        return self._drivers[source]

    def active(self) -> list[Driver]:
        """The drivers this process has started: what may still run a replica whose cluster is gone."""
        return list(self._drivers.values())

    async def close(self) -> None:
        for d in self._drivers.values():
            await d.close()
        self._drivers.clear()
