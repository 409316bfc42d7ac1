"""GKE provisioning end to end through the official google-cloud-container client, against the
fake GKE API on loopback (operations included): create with accelerators and driver
installation, Ready, resize, delete until nothing is left; GKE's own errors (bad machine type,
quota) in status and retried with backoff; credentials only from the Secret, never from the
host's Application Default Credentials, never in a message."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.cloud.container_v1 import GatewayAPIConfig, GPUDriverInstallationConfig
from provisioning_steps import converge

from laneway.api.kinds import InferenceClass, InferenceCluster
from laneway.api.kinds.secret import Secret
from laneway.drivers.provisioners.gke import GkeProvisioner
from laneway.drivers.provisioning import ProvisionState
from laneway.store.memory import MemoryStore
from laneway.testing.fake_gke import FakeGke, fake_gke

LOCATION = "us-central1"


@pytest.fixture
def gke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGke]:
    # The host's ambient Google identity, which must never be used: a well-formed key of
    # another service account, which the fake refuses.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    ambient = tmp_path / "ambient.json"
    ambient.write_text(json.dumps({"type": "service_account", "project_id": "laneway-test", "private_key_id": "ambient", "private_key": pem,
                                   "client_email": "host@laneway-test.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:9/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(ambient))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with fake_gke(accelerator_quota={"nvidia-tesla-a100": 6}) as server:
        yield server


def _store(gke: FakeGke, *, machine: str = "a2-highgpu-1g") -> MemoryStore:
    store = MemoryStore()
    store.create(Secret.model_validate({"metadata": {"name": "gcp", "namespace": "laneway-system"},
                                        "stringData": {"credentials.json": json.dumps(gke.service_account_info())}}))
    store.create(InferenceClass.model_validate({
        "metadata": {"name": "a100"},
        "spec": {
            "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}],
            "provisioning": {"provider": "GKE", "gke": {"machineType": machine, "accelerator": {"type": "nvidia-tesla-a100", "count": 1}}},
            "pricing": {"perNodeHour": 3.67},
        },
    }))
    store.create(_cluster(gke, 2))
    return store


def _cluster(gke: FakeGke, nodes: int, *, pools: list[dict[str, object]] | None = None) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": "gpu-gke"},
        "spec": {
            "cluster": {"source": "GKE", "gke": {"project": "laneway-test", "location": LOCATION, "endpointUrl": gke.url,
                                                  "credentialsSecretRef": {"name": "gcp"}}},
            "nodePools": pools or [{"name": "gpu-a100", "className": "a100", "nodeCount": nodes}],
        },
    })



def test_gke_lifecycle_against_the_fake_api(gke: FakeGke) -> None:
    store = _store(gke)
    provisioner = GkeProvisioner(store=store)
    cluster = _cluster(gke, 2)
    states = converge(provisioner, cluster, until="Ready")
    assert states[0] == ProvisionState("Provisioning", f"creating GKE cluster gpu-gke in {LOCATION}")
    assert any("waiting for GKE cluster gpu-gke to be created (operation operation-1-" in s.message for s in states)
    pool = gke.node_pool(LOCATION, "gpu-gke", "gpu-a100")
    assert pool is not None and pool["config"]["machineType"] == "a2-highgpu-1g"
    (accelerator,) = pool["config"]["accelerators"]
    assert accelerator["acceleratorType"] == "nvidia-tesla-a100" and int(accelerator["acceleratorCount"]) == 1
    assert accelerator["gpuDriverInstallationConfig"]["gpuDriverVersion"] in ("LATEST", GPUDriverInstallationConfig.GPUDriverVersion.LATEST.value), "the NVIDIA driver is installed by GKE"
    assert pool["config"]["labels"] == {"laneway.dev/pool": "gpu-a100"}
    assert gke.node_count(LOCATION, "gpu-gke", "gpu-a100") == 2
    created = gke.state.clusters[("laneway-test", LOCATION, "gpu-gke")]
    assert created["networkConfig"]["gatewayApiConfig"]["channel"] in ("CHANNEL_STANDARD", GatewayAPIConfig.Channel.CHANNEL_STANDARD.value), "GKE's Gateway API and controller"

    kubeconfig = json.loads(provisioner.kubeconfig(cluster).text)
    calls = len(gke.requests)
    assert json.loads(provisioner.kubeconfig(cluster).text) == kubeconfig and len(gke.requests) == calls, \
        "the minted kubeconfig is kept: the driver's connection stays, GKE is not asked again"
    token = kubeconfig["users"][0]["user"]["token"]
    assert token in gke.issued, "an OAuth access token from the key's token endpoint, not the key"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1"

    resized = _cluster(gke, 3)
    states = converge(provisioner, resized, until="Ready")
    assert any("node pool gpu-a100 to resize from 2 to 3 nodes" in s.message for s in states)
    assert gke.node_count(LOCATION, "gpu-gke", "gpu-a100") == 3

    two_pools = _cluster(gke, 3, pools=[{"name": "gpu-a100", "className": "a100", "nodeCount": 3},
                                         {"name": "gpu-b", "className": "a100", "nodeCount": 1}])
    states = converge(provisioner, two_pools, until="Ready")
    assert any("node pool gpu-b (1 x a2-highgpu-1g) to be created" in s.message for s in states)
    states += converge(provisioner, resized, until="Ready")
    assert gke.node_pool(LOCATION, "gpu-gke", "gpu-b") is None, "a pool no longer declared is deleted"

    states += converge(provisioner, resized, until="Pending", release=True)
    assert gke.cluster_names() == []
    key = gke.service_account_info()["private_key"]
    assert all(key not in s.message and "PRIVATE KEY" not in s.message for s in states)
    assert gke.refused == [], "every call carried the Secret's service account"


def test_bad_machine_type_is_reported_with_gkes_message_and_retried_with_backoff(gke: FakeGke) -> None:
    now = [100.0]
    store = _store(gke, machine="a9-nonexistent-1g")
    provisioner = GkeProvisioner(store=store, clock=lambda: now[0])
    first = asyncio.run(provisioner.ensure(_cluster(gke, 1)))
    assert first.phase == "Failed"
    assert 'Machine type "a9-nonexistent-1g" does not exist in zone "us-central1"' in first.message
    assert "retrying in 5s (attempt 2)" in first.message
    calls = len(gke.requests)
    assert asyncio.run(provisioner.ensure(_cluster(gke, 1))).phase == "Failed"
    assert len(gke.requests) == calls, "within the backoff nothing is called"
    now[0] += 6
    third = asyncio.run(provisioner.ensure(_cluster(gke, 1)))
    assert "retrying in 10s (attempt 3)" in third.message and gke.cluster_names() == []


def test_quota_error_of_an_operation_shows_in_status_and_the_size_is_retried(gke: FakeGke) -> None:
    now = [100.0]
    store = _store(gke)
    provisioner = GkeProvisioner(store=store, clock=lambda: now[0])
    converge(provisioner, _cluster(gke, 2), until="Ready")
    states = converge(provisioner, _cluster(gke, 8), until="Failed")
    assert "Insufficient regional quota to satisfy request" in states[-1].message
    assert 'resource "NVIDIA_TESLA_A100_GPUS"' in states[-1].message and "retrying in 5s" in states[-1].message
    assert gke.node_count(LOCATION, "gpu-gke", "gpu-a100") == 2
    now[0] += 6
    states = converge(provisioner, _cluster(gke, 6), until="Ready")
    assert gke.node_count(LOCATION, "gpu-gke", "gpu-a100") == 6, "a size within quota succeeds after the backoff"


def test_no_secret_means_no_call_even_with_ambient_credentials(gke: FakeGke) -> None:
    store = _store(gke)
    store.delete(Secret, Secret.model_validate({"metadata": {"name": "gcp", "namespace": "laneway-system"}}).key)
    state = asyncio.run(GkeProvisioner(store=store).ensure(_cluster(gke, 1)))
    assert state.phase == "Failed" and "Secret laneway-system/gcp (its GKE credentials) does not exist" in state.message
    assert gke.requests == []


def test_a_key_that_is_not_a_service_account_says_so(gke: FakeGke) -> None:
    store = _store(gke)
    store.delete(Secret, Secret.model_validate({"metadata": {"name": "gcp", "namespace": "laneway-system"}}).key)
    store.create(Secret.model_validate({"metadata": {"name": "gcp", "namespace": "laneway-system"},
                                        "stringData": {"credentials.json": "not json at all, secret-ish-value"}}))
    state = asyncio.run(GkeProvisioner(store=store).ensure(_cluster(gke, 1)))
    assert state.phase == "Failed" and "key 'credentials.json' is not JSON" in state.message
    assert "secret-ish-value" not in state.message and gke.requests == []


def test_without_the_gke_client_the_cluster_says_what_to_install(gke: FakeGke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.container_v1", None)  # as if google-cloud-container were not installed
    state = asyncio.run(GkeProvisioner(store=_store(gke)).ensure(_cluster(gke, 1)))
    assert state.phase == "Failed" and "pip install 'laneway[gke]'" in state.message
    assert gke.requests == []
