"""A provisioned cluster arrives bare; laneway installs what it needs before placing on it.

The EKS provisioner creates the cluster in moto; its Kubernetes API (the fake one) starts with
no LeaderWorkerSet, Gateway API or Inference Extension CRDs and no Gateway. Through the
InferenceCluster controller laneway installs the pinned CRDs, the namespace and the Gateway of
the platform's class; once the Gateway has an address (the test plays its controller) the
cluster is Ready. `laneway cluster check` then reports the add-ons as for an Existing cluster,
naming what laneway does not install (the LeaderWorkerSet controller)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kube_fleet import EksOnFakeKube, provision_on, started

from laneway.api.kinds import InferenceClass, InferenceCluster, Secret
from laneway.api.meta import ObjectKey
from laneway.cli.main import main
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore
from laneway.testing.fake_kube import FakeKube
from laneway.testing.moto_aws import moto_aws

KEY = ObjectKey("", "gpu-eks")
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": "laneway-system"},
          "stringData": {"aws_access_key_id": "AKIABOOTSTRAP0000000", "aws_secret_access_key": "bootstrap-secret-key"}}
CLASS = {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceClass", "metadata": {"name": "a10g"}, "spec": {
    "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 8}],
    "provisioning": {"provider": "EKS", "eks": {"instanceType": "g5.48xlarge"}}, "pricing": {"perNodeHour": 16.288}}}


def _cluster(endpoint: str) -> dict[str, object]:
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceCluster", "metadata": {"name": "gpu-eks"}, "spec": {
        "cluster": {"source": "EKS", "eks": {"region": "us-east-1", "endpointUrl": endpoint, "credentialsSecretRef": {"name": "aws"},
                                              "gatewayClassName": "istio"}},
        "nodePools": [{"name": "h100", "className": "a10g", "nodeCount": 2}]}}


@pytest.fixture
def bare() -> Iterator[FakeKube]:
    with started("gpu-eks", crds=False) as kube:  # nodes, ResourceSlices, DeviceClass, StorageClass: no add-ons
        yield kube


def test_bootstrap_installs_the_addons_and_check_reports_them(bare: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provision_on(monkeypatch, "EKS", EksOnFakeKube, bare)
    assert bare.names("apiextensions.k8s.io/v1", "customresourcedefinitions") == []
    with moto_aws() as endpoint:
        store = MemoryStore()
        store.create(Secret.model_validate(SECRET))
        store.create(InferenceClass.model_validate(CLASS))
        store.create(InferenceCluster.model_validate(_cluster(endpoint)))
        drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path, store=store)
        controller = ClusterController(ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 0.0, drivers=drivers), drivers)

        def ready() -> tuple[str, str]:
            asyncio.run(controller.reconcile(KEY))
            condition = {c.type: c for c in store.get(InferenceCluster, KEY).status.conditions}["Ready"]
            return condition.status, condition.message

        try:
            for _ in range(10):
                status, message = ready()
                if "Provisioning" not in message:
                    break
            assert sorted(bare.names("apiextensions.k8s.io/v1", "customresourcedefinitions")) == [
                "gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io",
                "inferenceobjectives.inference.networking.x-k8s.io", "inferencepools.inference.networking.k8s.io",
                "leaderworkersets.leaderworkerset.x-k8s.io",
            ]
            gateway = bare.get("gateway.networking.k8s.io/v1", "gateways", "laneway-system", "laneway")
            assert gateway is not None and gateway["spec"]["gatewayClassName"] == "istio"
            assert (status, message) == ("False", "no gateway address is known for this cluster yet")

            bare.set_status("gateway.networking.k8s.io/v1", "gateways", "laneway-system", "laneway",
                            {"addresses": [{"type": "IPAddress", "value": "10.9.0.10"}]})
            assert ready() == ("True", "gateway at http://10.9.0.10")

            manifests = tmp_path / "cluster.yaml"
            manifests.write_text(yaml.safe_dump_all([SECRET, CLASS, _cluster(endpoint)]))
            kubeconfig = tmp_path / "kubeconfig.yaml"
            kubeconfig.write_text(bare.kubeconfig())
            env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None}
            result = CliRunner().invoke(main, ["cluster", "check", "gpu-eks", "-f", str(manifests), "--kubeconfig", str(kubeconfig),
                                               "--inference-extension"], env=env)
            lines = result.output.splitlines()
            assert any(line.startswith("ok") and "leaderworkerset.x-k8s.io/v1" in line for line in lines), result.output
            assert any(line.startswith("ok") and "inference.networking.k8s.io/v1" in line for line in lines), result.output
            assert "lws-controller-manager" in result.output and result.exit_code == 1, "what laneway does not install is named"
            assert "bootstrap-secret-key" not in result.output
        finally:
            asyncio.run(drivers.close())
