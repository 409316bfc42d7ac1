"""Provisioned clusters: a provisioner plus the Kubernetes driver.

A cloud InferenceCluster (`source: EKS`, `GKE`, ...) names a cluster that does not exist yet.
A `Provisioner` creates it (and its node pools) from the cluster's provider block, reports
where creation stands, and then hands over the kubeconfig; from there on the cluster is an
ordinary Kubernetes cluster, driven by the same `KubernetesDriver` that drives Existing ones.
`ProvisionedDriver` is that composition, so a provider adds only its provisioner:

    register_provisioned_source("EKS", lambda context: EksProvisioner(...))

`ProvisionedDriver.healthy` asks the provisioner to converge first (creating what is missing,
idempotently) and reports its progress until the cluster is Ready; only then does it ask the
Kubernetes driver, whose kubeconfig comes from the provisioner (a `KubeconfigSource`). Every
other call goes to the Kubernetes driver as is, so caches, gateway address and replicas work
as on an Existing cluster.

The providers live in `drivers/provisioners/` (EKS, GKE; `source.py` registers them). Tearing
a cluster down is `release`: the InferenceCluster controller holds a finalizer on every
provisioned cluster whose credentials Secret exists (so nothing created can outlive its
manifest unnoticed) and calls `ProvisionedDriver.release` until the provisioner says nothing
is left (`Pending`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.state import CacheState
from laneway.drivers.base import ReplicaObservation
from laneway.drivers.kubeconfig import Kubeconfig
from laneway.drivers.registry import DriverContext, register_source
from laneway.egress.policy import EgressPolicy

ProvisionPhase = Literal["Pending", "Provisioning", "Ready", "Failed", "Deleting"]


@dataclass(frozen=True)
class ProvisionState:
    """Where creating (or deleting) a cluster stands, and what to do when it failed."""

    phase: ProvisionPhase
    message: str = ""


@runtime_checkable
class Provisioner(Protocol):
    """Creates the clusters of one cloud source and hands them to the Kubernetes driver."""

    async def ensure(self, cluster: InferenceCluster) -> ProvisionState:
        """Create what is missing or converge what differs (node pools, versions); idempotent,
        returns at once with where it stands (it never waits for the cloud)."""
        ...

    async def release(self, cluster: InferenceCluster) -> ProvisionState:
        """Delete what `ensure` created; idempotent. `Deleting` until gone, then `Pending`."""
        ...

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        """The created cluster's kubeconfig (a `KubeconfigSource`); raises NoKubeconfig until
        the cluster is Ready."""
        ...

    async def close(self) -> None:
        """Release what this provisioner holds in this process (clients, sessions)."""
        ...


class ProvisionedDriver:
    """The Driver (and CacheStager, GatewayReporter) of a provisioned source: a provisioner
    in front of the Kubernetes driver, which connects with the provisioner's kubeconfigs."""

    def __init__(self, provisioner: Provisioner, context: DriverContext) -> None:
        from laneway.drivers.kubernetes.driver import (
            KubernetesDriver,  # the client and schemas: loaded when used
        )

        if context.store is None:
            raise ValueError("a provisioned cluster's driver needs the store (to read its clusters)")
        self.provisioner = provisioner
        self.kubernetes = KubernetesDriver(store=context.store, kubeconfigs=provisioner)
        self.last_state: dict[str, ProvisionState] = {}  # by cluster name: what `healthy` last saw
        self._bootstrapped: set[str] = set()  # clusters whose add-ons this process installed

    async def release(self, cluster: InferenceCluster) -> ProvisionState:
        """One step of deleting what the provisioner created for `cluster` (see `Provisioner.release`)."""
        state = await self.provisioner.release(cluster)
        self.last_state[cluster.name] = state
        return state

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        state = await self.provisioner.ensure(cluster)
        self.last_state[cluster.name] = state
        if state.phase != "Ready":
            return False, f"cluster {cluster.name} is {state.phase}" + (f": {state.message}" if state.message else "")
        if cluster.name not in self._bootstrapped:
            waiting = await self._bootstrap(cluster)
            if waiting:
                return False, f"cluster {cluster.name} is being bootstrapped: {waiting}"
        ok, why = await self.kubernetes.healthy(cluster)
        if not ok:  # an add-on may have been removed: install again next time
            self._bootstrapped.discard(cluster.name)
        return ok, why

    async def _bootstrap(self, cluster: InferenceCluster) -> str:
        """Install the add-ons the cluster needs (see `kubernetes.bootstrap`); what it still
        waits for, or "" once everything is applied."""
        from laneway.drivers.kubernetes.bootstrap import addons, install
        from laneway.drivers.kubernetes.errors import KubernetesDriverError

        try:
            conn = await self.kubernetes.connection(cluster)
            done = await asyncio.to_thread(install, conn, addons(cluster))
        except KubernetesDriverError as error:
            return f"installing its add-ons failed: {error}"
        if done.waiting:
            return "waiting for " + "; ".join(done.waiting)
        self._bootstrapped.add(cluster.name)
        return ""

    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        await self.kubernetes.apply(replica, cluster)

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        return await self.kubernetes.observe(replica)

    async def teardown(self, replica: ModelReplica) -> None:
        await self.kubernetes.teardown(replica)

    async def gateway_address(self, cluster: InferenceCluster) -> str | None:
        return await self.kubernetes.gateway_address(cluster)

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None:
        await self.kubernetes.apply_cache(cache, cluster, credential=credential, egress=egress)

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        return await self.kubernetes.observe_cache(cache, cluster)

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        await self.kubernetes.delete_cache(cache, cluster)

    async def close(self) -> None:
        try:
            await self.kubernetes.close()
        finally:
            await self.provisioner.close()


def not_provisioned_message(source: str) -> str:
    """What a cluster of a cloud source says while this build has no provisioner for it: that
    nothing is created, which seam to implement, and how to use the cluster meanwhile."""
    return (
        f"source {source} is not provisioned by this laneway yet: nothing is created in the cloud. "
        f"Implement laneway.drivers.provisioning.Provisioner for it and register it with "
        f"register_provisioned_source({source!r}, ...); meanwhile create the cluster yourself and adopt it "
        "with source: Existing (see docs/provisioning.md)"
    )


ProvisionerFactory = Callable[[DriverContext], Provisioner]


def register_provisioned_source(name: str, provisioner: ProvisionerFactory) -> None:
    """Register a cloud cluster source whose clusters `provisioner` creates (see the module
    docstring). A process without a store runs no driver for it, as for Existing clusters."""

    def driver(context: DriverContext) -> ProvisionedDriver | None:
        if context.store is None:
            return None
        return ProvisionedDriver(provisioner(context), context)

    register_source(name, driver=driver)
