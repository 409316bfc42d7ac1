"""Every registered driver conforms to the protocols it claims, signature by signature.

`isinstance(driver, Capability)` (what callers ask) only checks that the methods exist; this
test also checks each method's parameters and that it is a coroutine where the protocol's is,
so a driver that drifts from a seam fails here rather than at the first reconcile that uses it.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers import registry
from laneway.drivers.base import (
    CacheStager,
    Driver,
    ExitReporter,
    GatewayReporter,
    Paced,
    PoolReporter,
    StandaloneStager,
)
from laneway.drivers.kubeconfig import Kubeconfig, KubeconfigSource, NoKubeconfig
from laneway.drivers.provisioning import ProvisionedDriver, Provisioner, ProvisionState
from laneway.drivers.registry import (
    DriverContext,
    DriverSet,
    DuplicateSource,
    StagerContext,
    register_source,
)
from laneway.store.memory import MemoryStore

CAPABILITIES: tuple[type, ...] = (Driver, CacheStager, GatewayReporter, Paced, ExitReporter, PoolReporter)
EXPECTED = {
    "Local": {Driver, CacheStager, ExitReporter},
    "Existing": {Driver, CacheStager, GatewayReporter},
    "Simulated": {Driver, GatewayReporter, Paced},
    "Machines": {Driver, CacheStager, Paced, PoolReporter},
    "EKS": {Driver, CacheStager, GatewayReporter},
    "GKE": {Driver, CacheStager, GatewayReporter},
}


def _protocol_methods(protocol: type) -> list[str]:
    return sorted(n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_"))


def _shape(function: object) -> tuple[bool, list[tuple[str, object]]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    params = [(p.name, p.kind) for p in signature.parameters.values()]
    return inspect.iscoroutinefunction(function), params


def assert_conforms(obj: object, protocol: type) -> None:
    assert isinstance(obj, protocol), f"{type(obj).__name__} does not implement {protocol.__name__}"
    for name in _protocol_methods(protocol):
        wanted = _shape(getattr(protocol, name))
        got = _shape(getattr(type(obj), name))
        assert got == wanted, f"{type(obj).__name__}.{name} is {got}, {protocol.__name__} declares {wanted}"


def _context(tmp_path: Path) -> DriverContext:
    return DriverContext(logs_dir=tmp_path / "logs", cache_dir=tmp_path / "cache", data_dir=tmp_path, store=MemoryStore())


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_each_registered_driver_conforms_to_what_it_claims(source: str, tmp_path: Path) -> None:
    entry = registry.source_entry(source)
    assert entry is not None, f"source {source} is not registered"
    driver = entry.driver(_context(tmp_path))
    assert driver is not None
    claimed = {p for p in CAPABILITIES if isinstance(driver, p)}
    assert claimed == EXPECTED[source]
    for protocol in claimed:
        assert_conforms(driver, protocol)
    asyncio.run(driver.close())


def test_every_registered_source_is_covered_here() -> None:
    assert registry.source_names() == sorted(EXPECTED), "a new source: add its expected capabilities above"


def test_standalone_stagers_conform(tmp_path: Path) -> None:
    stagers = registry.standalone_stagers(StagerContext(cache_dir=tmp_path, retry_after=30))
    assert set(stagers) == {"Local"}
    for stager in stagers.values():
        assert_conforms(stager, StandaloneStager)


def test_a_driver_that_drifts_from_its_protocol_is_caught() -> None:
    class Drifted:
        async def apply_cache(self, cache, cluster, credential=None, egress=None) -> None: ...  # type: ignore[no-untyped-def]  # not keyword-only

        async def observe_cache(self, cache, cluster): ...  # type: ignore[no-untyped-def]

        async def delete_cache(self, cache, cluster) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(AssertionError, match="apply_cache"):
        assert_conforms(Drifted(), CacheStager)


def test_a_source_without_what_its_driver_needs_has_no_driver(tmp_path: Path) -> None:
    entry = registry.source_entry("Existing")
    assert entry is not None
    assert entry.driver(DriverContext(logs_dir=tmp_path)) is None, "no store: no kubeconfig Secrets to connect with"


def _cluster(source: str) -> InferenceCluster:
    block = {"source": source, "local": {}} if source == "Local" else {"source": source, "aks": {"location": "westeurope"}}
    return InferenceCluster.model_validate({"metadata": {"name": "c"}, "spec": {"cluster": block}})


def test_a_new_source_registers_by_name_and_drivers_find_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry.source_names()  # the built-ins are loaded before this test adds to the table
    monkeypatch.setattr(registry, "_sources", dict(registry._sources))
    drivers = DriverSet(logs_dir=tmp_path)
    assert drivers.for_cluster(_cluster("AKS")) is None, "no AKS source in this build"

    built: list[DriverContext] = []

    def aks_driver(context: DriverContext) -> Driver:
        built.append(context)
        entry = registry.source_entry("Local")
        assert entry is not None
        driver = entry.driver(context)
        assert driver is not None
        return driver

    register_source("AKS", driver=aks_driver)
    register_source("AKS", driver=aks_driver)  # the same registration again (a module imported twice): fine
    with pytest.raises(DuplicateSource, match="AKS"):
        register_source("AKS", driver=lambda context: None)
    first = drivers.for_cluster(_cluster("AKS"))
    assert first is not None and drivers.for_cluster(_cluster("AKS")) is first, "one driver per source per process"
    assert built == [drivers.context()]
    assert "AKS" in registry.source_names()
    asyncio.run(drivers.close())


class _Unprovisioned:
    """A provisioner that never gets anywhere: enough to build the composed driver."""

    async def ensure(self, cluster: InferenceCluster) -> ProvisionState:
        return ProvisionState("Pending")

    async def release(self, cluster: InferenceCluster) -> ProvisionState:
        return ProvisionState("Pending")

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        raise NoKubeconfig("never")

    async def close(self) -> None:
        pass


def test_a_provisioned_driver_is_everything_the_kubernetes_driver_is(tmp_path: Path) -> None:
    provisioner = _Unprovisioned()
    assert_conforms(provisioner, Provisioner)
    assert_conforms(provisioner, KubeconfigSource)
    driver = ProvisionedDriver(provisioner, _context(tmp_path))
    for protocol in EXPECTED["Existing"]:
        assert_conforms(driver, protocol)
    asyncio.run(driver.close())


@pytest.mark.parametrize("source", ["EKS", "GKE"])
def test_the_cloud_provisioners_conform_to_the_seam(source: str) -> None:
    from laneway.drivers.provisioners.source import provisioner_for

    provisioner = provisioner_for(source, MemoryStore())
    assert provisioner is not None
    assert_conforms(provisioner, Provisioner)
    assert_conforms(provisioner, KubeconfigSource)
