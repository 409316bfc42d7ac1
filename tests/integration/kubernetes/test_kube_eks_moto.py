"""An EKS cluster through the InferenceCluster controller: the EKS provisioner creates it in
moto's AWS on loopback, reports each phase in the cluster's status, and once it is Ready the
Kubernetes driver takes over (the created cluster's API is the fake Kubernetes API: moto's
cluster endpoint is not a real server). Then a resize, and deletion until nothing is left."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_fleet import EksOnFakeKube, provision_on, started

from laneway.api.kinds import InferenceClass, InferenceCluster, Secret
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.drivers.provisioners.eks import AwsCredentials, aws_client
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore
from laneway.testing.fake_kube import FakeKube
from laneway.testing.moto_aws import moto_aws

SECRET_KEY = "controller-test-secret-key-never-in-status"


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with started("gpu-eks", gateway_ip="10.2.0.10") as kube:
        yield kube


def _cluster(endpoint: str, nodes: int) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": "gpu-eks"},
        "spec": {
            "cluster": {"source": "EKS", "eks": {"region": "us-east-1", "endpointUrl": endpoint, "credentialsSecretRef": {"name": "aws"}}},
            "nodePools": [{"name": "gpu-a10g", "className": "a10g", "nodeCount": nodes, "maxNodeCount": 4}],
        },
    })


def _ready(store: MemoryStore) -> Any:
    return {c.type: c for c in store.get(InferenceCluster, ObjectKey("", "gpu-eks")).status.conditions}["Ready"]


def test_eks_cluster_through_the_controller(fake: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = provision_on(monkeypatch, "EKS", EksOnFakeKube, fake)
    with moto_aws() as endpoint:
        store = MemoryStore()
        store.create(Secret.model_validate({"metadata": {"name": "aws", "namespace": "laneway-system"},
                                            "stringData": {"aws_access_key_id": "AKIACONTROLLER000000", "aws_secret_access_key": SECRET_KEY}}))
        store.create(InferenceClass.model_validate({"metadata": {"name": "a10g"}, "spec": {
            "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}],
            "provisioning": {"provider": "EKS", "eks": {"instanceType": "g5.xlarge"}}, "pricing": {"perNodeHour": 1.006}}}))
        store.create(_cluster(endpoint, 2))
        drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path, store=store)
        controller = ClusterController(ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers), drivers)
        messages: list[str] = []

        def reconcile_until_ready() -> None:
            for _ in range(10):
                asyncio.run(controller.reconcile(ObjectKey("", "gpu-eks")))
                ready = _ready(store)
                messages.append(ready.message)
                if ready.status == "True":
                    return
            raise AssertionError(f"never Ready: {messages}")

        try:
            reconcile_until_ready()
            assert messages[0] == "cluster gpu-eks is Provisioning: creating EKS cluster gpu-eks"
            assert any("node group gpu-a10g (2 x g5.xlarge) to be created" in m for m in messages)
            assert _ready(store).message == "gateway at http://10.2.0.10"
            eks = aws_client("eks", AwsCredentials("AKIACONTROLLER000000", SECRET_KEY), "us-east-1", endpoint)
            assert eks.describe_nodegroup(clusterName="gpu-eks", nodegroupName="gpu-a10g")["nodegroup"]["scalingConfig"]["desiredSize"] == 2

            current = store.get(InferenceCluster, ObjectKey("", "gpu-eks"))
            store.update(current.model_copy(update={"spec": _cluster(endpoint, 3).spec}))
            reconcile_until_ready()
            assert any("resize from 2 to 3 nodes" in m for m in messages)
            assert eks.describe_nodegroup(clusterName="gpu-eks", nodegroupName="gpu-a10g")["nodegroup"]["scalingConfig"]["desiredSize"] == 3
            assert all(SECRET_KEY not in m for m in messages)
            assert SECRET_KEY not in store.get(InferenceCluster, ObjectKey("", "gpu-eks")).model_dump_json()

            assert len(made) == 1, "one provisioner for the source in this process"
            assert "laneway.dev/cloud-resources" in store.get(InferenceCluster, ObjectKey("", "gpu-eks")).metadata.finalizers
            store.delete(InferenceCluster, ObjectKey("", "gpu-eks"))
            for _ in range(10):
                asyncio.run(controller.reconcile(ObjectKey("", "gpu-eks")))
                if store.find(InferenceCluster, ObjectKey("", "gpu-eks")) is None:
                    break
                messages.append(_ready(store).message)
            assert store.find(InferenceCluster, ObjectKey("", "gpu-eks")) is None, f"the finalizer held: {messages}"
            assert any("waiting for node groups gpu-a10g to be deleted" in m for m in messages), "node groups before the cluster"
            assert eks.list_clusters()["clusters"] == []
            assert all(SECRET_KEY not in m for m in messages)
        finally:
            asyncio.run(drivers.close())
