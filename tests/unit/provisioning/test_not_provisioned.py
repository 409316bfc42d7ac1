"""A cloud cluster whose provider has no provisioner says so, naming the seam to implement."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from laneway.api.kinds import InferenceClass, InferenceCluster
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.drivers.registry import DriverSet, source_entry
from laneway.store.memory import MemoryStore

BLOCKS = {"AKS": {"location": "westeurope"}, "Nebius": {"region": "eu-north1"}, "Vultr": {"region": "ewr"}}


@pytest.mark.parametrize("source", sorted(BLOCKS))
def test_unprovisioned_source_names_the_seam(tmp_path: Path, source: str) -> None:
    assert source_entry(source) is None, f"{source} has a provisioner now: this test no longer applies to it"
    store = MemoryStore()
    store.create(InferenceClass.model_validate({"metadata": {"name": "gpu"}, "spec": {"devices": [{"name": "g", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}]}}))
    store.create(InferenceCluster.model_validate(
        {"metadata": {"name": "c"}, "spec": {"cluster": {"source": source, source.lower(): BLOCKS[source]}, "nodePools": [{"name": "p", "className": "gpu"}]}}
    ))
    drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path)
    ctx = ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers)
    asyncio.run(ClusterController(ctx, drivers).reconcile(ObjectKey("", "c")))
    asyncio.run(drivers.close())
    ready = {c.type: c for c in store.get(InferenceCluster, ObjectKey("", "c")).status.conditions}["Ready"]
    assert (ready.status, ready.reason) == ("False", "NotProvisioned")
    assert "laneway.drivers.provisioning.Provisioner" in ready.message and f"register_provisioned_source('{source}'" in ready.message


@pytest.mark.parametrize("source", ["EKS", "GKE"])
def test_eks_and_gke_are_provisioned_sources(source: str) -> None:
    assert source_entry(source) is not None, f"{source} is registered by laneway.drivers.provisioners.source"


def test_an_adopted_cluster_lets_go_of_the_cloud_finalizer(tmp_path: Path) -> None:
    """A provisioned cluster whose source became Existing (the platform adopted it) no longer
    holds deletion for a cloud clean-up laneway will not do."""
    from laneway.control.cluster import CLOUD_FINALIZER

    store = MemoryStore()
    store.create(InferenceClass.model_validate({"metadata": {"name": "gpu"}, "spec": {"devices": [{"name": "g", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}]}}))
    store.create(InferenceCluster.model_validate({"metadata": {"name": "c", "finalizers": [CLOUD_FINALIZER]}, "spec": {
        "cluster": {"source": "Existing", "existing": {"secretRef": {"name": "c-kubeconfig"}}}, "nodePools": [{"name": "p", "className": "gpu"}]}}))
    store.delete(InferenceCluster, ObjectKey("", "c"))
    assert store.find(InferenceCluster, ObjectKey("", "c")) is not None, "held by the finalizer"
    drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path, store=store)
    ctx = ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers)
    asyncio.run(ClusterController(ctx, drivers).reconcile(ObjectKey("", "c")))
    asyncio.run(drivers.close())
    assert store.find(InferenceCluster, ObjectKey("", "c")) is None
