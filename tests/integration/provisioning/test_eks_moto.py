"""EKS provisioning end to end against moto's server on loopback (EKS, EC2, IAM, STS):
create, Ready, resize, a provider error retried with backoff, delete until nothing is left;
credentials only from the Secret, never the host's environment, never in a message."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from provisioning_steps import converge

from laneway.api.kinds import InferenceClass, InferenceCluster
from laneway.api.kinds.secret import Secret
from laneway.drivers.provisioners.eks import CLUSTER_TAG, AwsCredentials, EksProvisioner, aws_client
from laneway.drivers.provisioning import ProvisionState
from laneway.store.memory import MemoryStore
from laneway.testing.moto_aws import moto_aws

KEY_ID = "AKIASECRETREFONLY000"
SECRET_KEY = "provisioner-secret-key-must-never-leak"


@pytest.fixture(params=[True])
def endpoint(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    # The host's ambient AWS identity, which must never be used: a dead endpoint and a
    # key that signs nothing here would make any call that read them fail.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTHOSTKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-host-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with moto_aws(managed_policies=request.param) as url:
        yield url


def _store(endpoint: str, *, node_count: int = 2, ami: str = "AL2023_x86_64_NVIDIA") -> MemoryStore:
    store = MemoryStore()
    store.create(Secret.model_validate({"metadata": {"name": "aws", "namespace": "laneway-system"}, "stringData": {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY}}))
    store.create(InferenceClass.model_validate({
        "metadata": {"name": "a10g"},
        "spec": {
            "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}],
            "provisioning": {"provider": "EKS", "eks": {"instanceType": "g5.xlarge", "amiType": ami}},
            "pricing": {"perNodeHour": 1.006},
        },
    }))
    store.create(_cluster(endpoint, node_count))
    return store


def _cluster(endpoint: str, node_count: int) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": "gpu-eks"},
        "spec": {
            "cluster": {"source": "EKS", "eks": {"region": "us-east-1", "endpointUrl": endpoint, "credentialsSecretRef": {"name": "aws"}}},
            "nodePools": [{"name": "gpu-a10g", "className": "a10g", "nodeCount": node_count, "maxNodeCount": 4}],
        },
    })


def _aws(endpoint: str, service: str) -> Any:
    return aws_client(service, AwsCredentials(KEY_ID, SECRET_KEY), "us-east-1", endpoint)



def test_eks_lifecycle_against_moto(endpoint: str) -> None:
    store = _store(endpoint)
    provisioner = EksProvisioner(store=store)
    cluster = store.get(InferenceCluster, _cluster(endpoint, 2).key)
    states = converge(provisioner, cluster, until="Ready")
    assert states[0] == ProvisionState("Provisioning", "creating EKS cluster gpu-eks")
    assert any("node group gpu-a10g (2 x g5.xlarge) to be created" in s.message for s in states)
    assert any(re.search(r"to be created, \d+s$", s.message) for s in states), "how long each wait has lasted"

    eks, ec2, iam = _aws(endpoint, "eks"), _aws(endpoint, "ec2"), _aws(endpoint, "iam")
    group = eks.describe_nodegroup(clusterName="gpu-eks", nodegroupName="gpu-a10g")["nodegroup"]
    assert group["instanceTypes"] == ["g5.xlarge"] and group["amiType"] == "AL2023_x86_64_NVIDIA"
    assert group["scalingConfig"]["desiredSize"] == 2
    # The clients signed with the Secret's key, not the host's.
    assert provisioner._clients(cluster).eks._request_signer._credentials.access_key == KEY_ID

    kubeconfig = provisioner.kubeconfig(cluster)
    assert provisioner.kubeconfig(cluster).text == kubeconfig.text, "kept while fresh: the driver keeps its connection"
    assert "k8s-aws-v1." in kubeconfig.text and SECRET_KEY not in kubeconfig.text and SECRET_KEY not in repr(kubeconfig)

    resized = _cluster(endpoint, 3)
    states = converge(provisioner, resized, until="Ready")
    assert any("resize from 2 to 3 nodes" in s.message for s in states)
    assert eks.describe_nodegroup(clusterName="gpu-eks", nodegroupName="gpu-a10g")["nodegroup"]["scalingConfig"]["desiredSize"] == 3

    states += converge(provisioner, resized, until="Pending", release=True)
    assert [s.phase for s in states][-1] == "Pending"
    assert eks.list_clusters()["clusters"] == []
    tag = [{"Name": f"tag:{CLUSTER_TAG}", "Values": ["gpu-eks"]}]
    assert ec2.describe_vpcs(Filters=tag)["Vpcs"] == [] and ec2.describe_subnets(Filters=tag)["Subnets"] == []
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("laneway-gpu-eks-")]
    assert all(SECRET_KEY not in s.message and KEY_ID not in s.message for s in states)


@pytest.mark.parametrize("endpoint", [False], indirect=True)
def test_provider_error_is_reported_with_its_message_and_retried_with_backoff(endpoint: str) -> None:
    now = [1000.0]
    store = _store(endpoint)
    provisioner = EksProvisioner(store=store, clock=lambda: now[0])
    cluster = store.get(InferenceCluster, _cluster(endpoint, 2).key)
    first = asyncio.run(provisioner.ensure(cluster))
    assert first.phase == "Failed"
    assert "NoSuchEntity: Policy arn:aws:iam::aws:policy/AmazonEKSClusterPolicy does not exist" in first.message, "AWS's own message"
    assert "retrying in 5s (attempt 2)" in first.message
    iam = _aws(endpoint, "iam")
    iam.delete_role(RoleName="laneway-gpu-eks-cluster")  # whatever a retry would create again
    again = asyncio.run(provisioner.ensure(cluster))
    assert again.phase == "Failed" and "attempt 2" in again.message
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("laneway-")] == [], "within the backoff nothing is called"
    now[0] += 6
    third = asyncio.run(provisioner.ensure(cluster))
    assert third.phase == "Failed" and "retrying in 10s (attempt 3)" in third.message
    assert _aws(endpoint, "eks").list_clusters()["clusters"] == [], "no cluster is created while its role cannot be completed"


def test_missing_credentials_secret_says_which_and_never_falls_back_to_the_host(endpoint: str) -> None:
    store = _store(endpoint)
    store.delete(Secret, Secret.model_validate({"metadata": {"name": "aws", "namespace": "laneway-system"}}).key)
    state = asyncio.run(EksProvisioner(store=store).ensure(_cluster(endpoint, 2)))
    assert state.phase == "Failed" and "Secret laneway-system/aws (its EKS credentials) does not exist" in state.message
    assert _aws(endpoint, "eks").list_clusters()["clusters"] == []


def test_a_missing_host_profile_breaks_no_aws_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_PROFILE naming a profile that does not exist fails every default botocore session
    before any request (moto's in-process server included, hence no server here); the
    provisioner's clients read no profile, and sign with the Secret's key alone."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTHOSTKEY00")
    for service in ("eks", "ec2", "iam", "sts"):
        client = aws_client(service, AwsCredentials(KEY_ID, SECRET_KEY), "us-east-1", "http://127.0.0.1:9")
        assert client._request_signer._credentials.access_key == KEY_ID
