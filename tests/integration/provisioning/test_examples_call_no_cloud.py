"""The provisioning examples apply as they are and spend nothing: through the InferenceCluster
controller with the real EKS and GKE sources registered, no cloud API is even resolved (the
credentials Secret they name is not in the examples), each cluster says which Secret to
create, holds no finalizer, and deletes at once."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from laneway.api.kinds import InferenceCluster
from laneway.api.manifest import load_paths
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.drivers.provisioning import ProvisionedDriver
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "provisioning"


def test_examples_call_no_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            looked_up.append(str(host))
            raise socket.gaierror(f"test: {host} must not be resolved")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTHOST00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-host-secret")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "ambient.json"))
    store = MemoryStore()
    for resource in load_paths([str(EXAMPLES)]):
        store.create(resource)
    clusters = store.list(InferenceCluster).items
    assert {c.spec.cluster.source for c in clusters} == {"EKS", "GKE"}
    drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path, store=store)
    controller = ClusterController(ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers), drivers)
    try:
        for cluster in clusters:
            assert isinstance(drivers.for_cluster(cluster), ProvisionedDriver)
            asyncio.run(controller.reconcile(cluster.key))
            stored = store.get(InferenceCluster, cluster.key)
            provisioned = {c.type: c for c in stored.status.conditions}["Provisioned"]
            assert provisioned.reason == "Failed" and "does not exist; create it with" in provisioned.message
            assert stored.metadata.finalizers == []
            store.delete(InferenceCluster, cluster.key)
            assert store.find(InferenceCluster, cluster.key) is None
    finally:
        asyncio.run(drivers.close())
    assert looked_up == []
