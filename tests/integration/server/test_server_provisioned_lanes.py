"""A team token can neither create nor change a provisioned (EKS, GKE) cluster, nor plant the
credentials Secret it names: each attempt is refused and nothing it sent is stored."""

from __future__ import annotations

import httpx
import pytest
from server_harness import RunningApi
from server_objects import collection

MERGE = {"Content-Type": "application/merge-patch+json"}


BLOCKS = {"EKS": {"region": "us-east-1"}, "GKE": {"project": "p", "location": "us-central1"}}


def _eks(node_count: int, endpoint: str = "", source: str = "EKS") -> dict[str, object]:
    eks: dict[str, object] = {**BLOCKS[source], "credentialsSecretRef": {"name": "aws"}}
    if endpoint:
        eks["endpointUrl"] = endpoint
    return {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "InferenceCluster",
        "metadata": {"name": "gpu-eks"},
        "spec": {"cluster": {"source": source, source.lower(): eks}, "nodePools": [{"name": "p", "className": "c", "nodeCount": node_count}]},
    }


@pytest.mark.parametrize("source", sorted(BLOCKS))
def test_team_cannot_create_or_modify_a_provisioned_cluster(api: RunningApi, admin: httpx.Client, source: str) -> None:
    block = source.lower()
    url = f"{collection('inferenceclusters')}/gpu-eks"
    with api.client(api.token("team", "ml-team")) as team:
        assert team.post(collection("inferenceclusters"), json=_eks(50, "http://attacker.example", source)).status_code == 403
        assert admin.get(url).status_code == 404, "the team's cluster was not stored"
        assert admin.post(collection("inferenceclusters"), json=_eks(1, source=source)).status_code == 201
        for attack in ({"spec": {"nodePools": [{"name": "p", "className": "c", "nodeCount": 500}]}},
                       {"spec": {"cluster": {"source": source, block: {**BLOCKS[source], "endpointUrl": "http://attacker.example", "credentialsSecretRef": {"name": "aws"}}}}}):
            assert team.patch(url, json=attack, headers=MERGE).status_code == 403
        assert team.put(url, json=_eks(500, source=source)).status_code == 403
        assert team.delete(url).status_code == 403
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": "laneway-system"},
                  "stringData": {"aws_access_key_id": "AKIATEAM", "aws_secret_access_key": "team"}}
        assert team.post(collection("secrets", "laneway-system"), json=secret).status_code == 403
    stored = admin.get(url).json()
    assert stored["spec"]["nodePools"][0]["nodeCount"] == 1 and "endpointUrl" not in stored["spec"]["cluster"][block]
    assert admin.get(f"{collection('secrets', 'laneway-system')}/aws").status_code == 404
