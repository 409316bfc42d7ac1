"""Minted kubeconfigs, kept while their token is fresh.

The Kubernetes driver asks for a cluster's kubeconfig before every call it makes, and keeps
its connection only while the kubeconfig's text stays the same. A provisioner that described
the cluster and minted a new token on every ask would call the cloud once per replica
operation and reconnect each time, so each provisioner keeps what it minted for `ttl` seconds
(well inside the token's own lifetime: EKS tokens last 15 minutes, GKE access tokens an hour).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from laneway.drivers.kubeconfig import Kubeconfig

DEFAULT_TTL = 600.0


@dataclass
class MintedKubeconfigs:
    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.monotonic
    _kept: dict[str, tuple[Kubeconfig, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, cluster: str, mint: Callable[[], Kubeconfig]) -> Kubeconfig:
        """The kubeconfig minted for `cluster` less than `ttl` ago, else a new one from `mint`
        (whose NoKubeconfig passes through, keeping nothing)."""
        now = self.clock()
        with self._lock:
            kept = self._kept.get(cluster)
        if kept is not None and now - kept[1] < self.ttl:
            return kept[0]
        fresh = mint()
        with self._lock:
            self._kept[cluster] = (fresh, now)
        return fresh

    def forget(self, cluster: str | None = None) -> None:
        """Drop what was minted for `cluster` (every cluster when None): it is being deleted."""
        with self._lock:
            if cluster is None:
                self._kept.clear()
            else:
                self._kept.pop(cluster, None)
