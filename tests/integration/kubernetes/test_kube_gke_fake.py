"""A GKE cluster through the InferenceCluster controller: the GKE provisioner creates it in the
fake GKE API (through the official client), the `Provisioned` condition follows its phases,
the Kubernetes driver takes over once it is RUNNING (its API played by the fake Kubernetes
API), a nodeCount change resizes the pool, and deleting the InferenceCluster deletes the GKE
cluster before the finalizer lets the object go. Credentials never reach status, the stored
object, the watch stream or the logs, and the host's ambient credentials are never used."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_fleet import GkeOnFakeKube, provision_on, started

from laneway.api.kinds import InferenceClass, InferenceCluster, Secret
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import CLOUD_FINALIZER, ClusterController
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore
from laneway.testing.fake_gke import FakeGke, fake_gke
from laneway.testing.fake_kube import FakeKube

KEY = ObjectKey("", "gpu-gke")


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with started("gpu-gke", gateway_ip="10.3.0.10") as fake:
        yield fake


@pytest.fixture
def gke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGke]:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "host-key.json"))
    (tmp_path / "host-key.json").write_text('{"type": "authorized_user", "client_id": "host", "client_secret": "host-secret", "refresh_token": "host"}')
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTHOST00000")
    with fake_gke() as server:
        yield server


def _cluster(gke: FakeGke, nodes: int) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": "gpu-gke"},
        "spec": {
            "cluster": {"source": "GKE", "gke": {"project": "laneway-test", "location": "us-central1", "endpointUrl": gke.url,
                                                  "credentialsSecretRef": {"name": "gcp"}}},
            "nodePools": [{"name": "gpu-l4", "className": "l4", "nodeCount": nodes, "maxNodeCount": 4}],
        },
    })


def _conditions(store: MemoryStore) -> dict[str, Any]:
    return {c.type: c for c in store.get(InferenceCluster, KEY).status.conditions}


def test_gke_cluster_through_the_controller(
    kube: FakeKube, gke: FakeGke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="laneway")
    provision_on(monkeypatch, "GKE", GkeOnFakeKube, kube)
    key_file = json.dumps(gke.service_account_info())
    private_key = gke.service_account_info()["private_key"].splitlines()[1]
    store = MemoryStore()
    store.create(Secret.model_validate({"metadata": {"name": "gcp", "namespace": "laneway-system"}, "stringData": {"credentials.json": key_file}}))
    store.create(InferenceClass.model_validate({"metadata": {"name": "l4"}, "spec": {
        "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}],
        "provisioning": {"provider": "GKE", "gke": {"machineType": "g2-standard-8", "accelerator": {"type": "nvidia-l4", "count": 1}}},
        "pricing": {"perNodeHour": 0.85}}}))
    store.create(_cluster(gke, 2))
    start = store.revision()
    drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path, store=store)
    controller = ClusterController(ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers), drivers)
    phases: list[str] = []

    def reconcile_until(done: Any) -> None:
        for _ in range(20):
            asyncio.run(controller.reconcile(KEY))
            if store.find(InferenceCluster, KEY) is None:
                return
            provisioned = _conditions(store).get("Provisioned")
            phases.append(f"{provisioned.reason}: {provisioned.message}" if provisioned else "")
            if done():
                return
        raise AssertionError(f"never done: {phases}")

    try:
        reconcile_until(lambda: _conditions(store)["Ready"].status == "True")
        assert phases[0] == "Provisioning: creating GKE cluster gpu-gke in us-central1"
        assert _conditions(store)["Provisioned"].reason == "Ready"
        assert _conditions(store)["Ready"].message == "gateway at http://10.3.0.10"
        assert CLOUD_FINALIZER in store.get(InferenceCluster, KEY).metadata.finalizers
        assert gke.node_count("us-central1", "gpu-gke", "gpu-l4") == 2

        current = store.get(InferenceCluster, KEY)
        store.update(current.model_copy(update={"spec": _cluster(gke, 3).spec}))
        reconcile_until(lambda: gke.node_count("us-central1", "gpu-gke", "gpu-l4") == 3 and _conditions(store)["Ready"].status == "True")
        assert any("node pool gpu-l4 to resize from 2 to 3 nodes" in p for p in phases)

        store.delete(InferenceCluster, KEY)
        reconcile_until(lambda: store.find(InferenceCluster, KEY) is None)
        assert store.find(InferenceCluster, KEY) is None, "the finalizer is gone once GKE deleted the cluster"
        assert any("GKE cluster gpu-gke and its node pools to be deleted" in p for p in phases)
        assert gke.cluster_names() == [], "nothing left billing"
        assert gke.refused == [], "every call used the Secret's service account"

        watched = store.events_since(start, kinds=frozenset({"InferenceCluster"}))
        assert watched, "the cluster's writes are in the watch stream"
        events = "".join(json.dumps(e.object.model_dump(mode="json")) for e in watched)
        text = "\n".join(phases) + events + "\n".join(r.getMessage() for r in caplog.records)
        for secret in (private_key, "host-secret", "AKIAAMBIENTHOST00000"):
            assert secret not in text
        assert not any(token in text for token in gke.issued), "no access token in status, events or logs"
    finally:
        asyncio.run(drivers.close())
