"""A provisioned cluster is a provisioner plus the Kubernetes driver: until the provisioner says
Ready the cluster is not healthy (and says why); then the Kubernetes driver takes over with the
provisioner's kubeconfig, against a real (fake) API server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kube_fleet import Fleet

from laneway.api.kinds import InferenceCluster
from laneway.drivers import registry
from laneway.drivers.base import CacheStager, Driver, GatewayReporter
from laneway.drivers.kubeconfig import Kubeconfig, NoKubeconfig
from laneway.drivers.provisioning import (
    ProvisionedDriver,
    Provisioner,
    ProvisionState,
    register_provisioned_source,
)
from laneway.drivers.registry import DriverContext, DriverSet
from laneway.testing.fake_kube import FakeKube


class StagedProvisioner:
    """Says Provisioning for `steps` calls of `ensure`, then Ready with the fake's kubeconfig."""

    def __init__(self, fake: FakeKube, steps: int = 1) -> None:
        self.fake = fake
        self.steps = steps
        self.ensured: list[str] = []
        self.closed = False

    async def ensure(self, cluster: InferenceCluster) -> ProvisionState:
        self.ensured.append(cluster.name)
        if len(self.ensured) <= self.steps:
            return ProvisionState("Provisioning", "creating node pool h100 (2 of 2 nodes pending)")
        return ProvisionState("Ready")

    async def release(self, cluster: InferenceCluster) -> ProvisionState:
        return ProvisionState("Pending")

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        if len(self.ensured) <= self.steps:
            raise NoKubeconfig(f"cluster {cluster.name} is still being created")
        return Kubeconfig(self.fake.kubeconfig(), f"the provisioner of {cluster.name}")

    async def close(self) -> None:
        self.closed = True


def _eks(fleet: Fleet, name: str) -> InferenceCluster:
    """gpu-eu as if a cloud created it: its pools and labels, source EKS."""
    doc = fleet.cluster(name).model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["spec"]["cluster"] = {"source": "EKS", "eks": {"region": "eu-west-1"}}
    doc.pop("status", None)
    return fleet.store.update(InferenceCluster.model_validate({**doc, "metadata": {**doc["metadata"]}}))


def test_the_provisioner_speaks_until_ready_then_the_kubernetes_driver(fleet: Fleet, tmp_path: Path) -> None:
    cluster = _eks(fleet, "gpu-eu")
    provisioner = StagedProvisioner(fleet.clusters["gpu-eu"])
    assert isinstance(provisioner, Provisioner)
    driver = ProvisionedDriver(provisioner, DriverContext(logs_dir=tmp_path, store=fleet.store))
    assert all(isinstance(driver, p) for p in (Driver, CacheStager, GatewayReporter))

    async def scenario() -> None:
        try:
            ok, why = await driver.healthy(cluster)
            assert not ok and "is Provisioning: creating node pool h100" in why
            assert await driver.gateway_address(cluster) is None, "no kubeconfig yet: no gateway to read"
            ok, why = await driver.healthy(cluster)
            assert ok, why
            assert await driver.gateway_address(cluster) == "http://10.0.0.10"
        finally:
            await driver.close()
        assert provisioner.closed

    asyncio.run(scenario())


def test_a_provisioned_source_registers_by_name(fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.source_names()
    monkeypatch.setattr(registry, "_sources", {k: v for k, v in registry._sources.items() if k != "EKS"})
    made: list[StagedProvisioner] = []

    def provisioner(context: DriverContext) -> StagedProvisioner:
        made.append(StagedProvisioner(fleet.clusters["gpu-eu"], steps=0))
        return made[-1]

    register_provisioned_source("EKS", provisioner)
    cluster = _eks(fleet, "gpu-eu")
    assert DriverSet(logs_dir=tmp_path).for_cluster(cluster) is None, "no store in this process: no driver"
    drivers = DriverSet(logs_dir=tmp_path, store=fleet.store)
    driver = drivers.for_cluster(cluster)
    assert isinstance(driver, ProvisionedDriver) and len(made) == 1

    async def scenario() -> None:
        try:
            ok, why = await driver.healthy(cluster)
            assert ok, why
        finally:
            await drivers.close()

    asyncio.run(scenario())
