"""`laneway cluster plan`: what provisioning would create and cost, computed offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from laneway.api.kinds import InferenceClass, InferenceCluster
from laneway.cli.main import main
from laneway.drivers.provisioners.plan import PlanError, plan_cluster


def _class(name: str, provider: str = "EKS", block: dict[str, Any] | None = None, price: float | None = 1.5) -> InferenceClass:
    spec: dict[str, Any] = {
        "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 1}],
        "provisioning": {"provider": provider, provider.lower(): block if block is not None else {"instanceType": "g5.xlarge", "accelerator": {"type": "nvidia-a10g", "count": 1}}},
    }
    if price is not None:
        spec["pricing"] = {"perNodeHour": price}
    return InferenceClass.model_validate({"apiVersion": "modelplane.ai/v1alpha1", "kind": "InferenceClass", "metadata": {"name": name}, "spec": spec})


def _cluster(pools: list[dict[str, Any]], source: str = "EKS") -> InferenceCluster:
    cluster: dict[str, Any] = {"source": source}
    if source == "EKS":
        cluster["eks"] = {"region": "us-east-1"}
    if source == "Existing":
        cluster["existing"] = {"secretRef": {"name": "kc"}}
    return InferenceCluster.model_validate(
        {"apiVersion": "modelplane.ai/v1alpha1", "kind": "InferenceCluster", "metadata": {"name": "gpu"}, "spec": {"cluster": cluster, "nodePools": pools}}
    )


def test_pool_takes_machine_accelerator_and_price_from_its_class() -> None:
    plan = plan_cluster(_cluster([{"name": "a", "className": "c", "nodeCount": 2, "maxNodeCount": 5}]), {"c": _class("c", price=1.25)})
    (pool,) = plan.pools
    assert (plan.provider, plan.region) == ("EKS", "us-east-1")
    assert (pool.machine, pool.accelerator, pool.accelerators_per_node) == ("g5.xlarge", "nvidia-a10g", 1)
    assert (pool.node_count, pool.min_node_count, pool.max_node_count) == (2, 2, 5)
    assert plan.hourly == pytest.approx(2.5) and plan.hourly_at_max == pytest.approx(6.25)


def test_pool_instance_type_overrides_the_class_and_system_pool_is_unpriced() -> None:
    plan = plan_cluster(
        _cluster([{"name": "a", "className": "c", "instanceType": "g5.2xlarge"}, {"name": "sys", "role": "System", "instanceType": "m5.large"}]),
        {"c": _class("c")},
    )
    assert [p.machine for p in plan.pools] == ["g5.2xlarge", "m5.large"]
    assert plan.hourly is None and plan.unpriced == ("sys",)


@pytest.mark.parametrize(
    ("pools", "classes", "needle"),
    [
        ([{"name": "a", "className": "nope"}], {}, "no InferenceClass named 'nope'"),
        ([{"name": "a", "className": "c"}], {"c": _class("c", provider="GKE", block={"machineType": "a2-highgpu-1g"})}, "provisioned on GKE, not EKS"),
        ([{"name": "a", "className": "c"}], {"c": _class("c", block={"amiType": "AL2023_x86_64_NVIDIA"})}, "provisioning.eks.instanceType"),
        ([{"name": "sys", "role": "System"}], {}, "set the pool's instanceType"),
        ([], {}, "has no nodePools"),
    ],
)
def test_unplannable_pool_says_which_and_how_to_fix(pools: list[dict[str, Any]], classes: dict[str, InferenceClass], needle: str) -> None:
    with pytest.raises(PlanError, match=needle):
        plan_cluster(_cluster(pools), classes)


def test_existing_cluster_is_not_provisioned() -> None:
    with pytest.raises(PlanError, match="provisions nothing"):
        plan_cluster(_cluster([{"name": "a", "className": "c"}], source="Existing"), {"c": _class("c")})


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "provisioning" / "eks-cluster.yaml"


def _run(*args: str, tmp_path: Path) -> Result:
    env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None}
    return CliRunner().invoke(main, ["cluster", "plan", *args], env=env)


def test_cli_prints_pools_and_hourly_price_of_the_example(tmp_path: Path) -> None:
    result = _run("-f", str(EXAMPLE), tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    assert "gpu-a10g" in result.output and "g5.xlarge" in result.output and "2.01 USD/h" in result.output
    data = json.loads(_run("-f", str(EXAMPLE), "-o", "json", tmp_path=tmp_path).output)
    assert data["clusters"][0]["pools"][0]["nodeCount"] == 2 and data["clusters"][0]["hourly"] == pytest.approx(2.012)


def test_cli_bad_plan_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("className: eks-a10g-1x", "className: missing-class")
    (tmp_path / "c.yaml").write_text(text)
    result = _run("-f", str(tmp_path / "c.yaml"), tmp_path=tmp_path)
    assert result.exit_code == 2 and "no InferenceClass named 'missing-class'" in result.output
    assert "Traceback" not in result.output
    missing = _run("nope", "-f", str(EXAMPLE), tmp_path=tmp_path)
    assert missing.exit_code == 2 and "no InferenceCluster named nope" in missing.output
