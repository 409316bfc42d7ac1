"""The four cases where a side-by-side run against Modelplane's scheduler found laneway wrong
(issue 13), each on the smallest fleet that reproduces it."""

from __future__ import annotations

from typing import Any

import pytest

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import InferenceClass, ModelReplica
from laneway.api.manifest import load_text
from laneway.placement import plan, plan_fleet

from .placement_builders import GPU, as_replicas, cluster, deployment, gpu_class

# -- 1. two device requests in one member over two device entries ---------------------------

SPLIT = InferenceClass.model_validate(
    {
        "metadata": {"name": "split"},
        "spec": {
            "devices": [
                {"name": "gpu-a", "driver": GPU, "deviceClassName": GPU, "count": 4, "attributes": {"productName": {"string": "H100"}}},
                {"name": "gpu-b", "driver": GPU, "deviceClassName": GPU, "count": 4, "attributes": {"productName": {"string": "H100"}}},
            ]
        },
    }
)
H100 = 'device.attributes["gpu.nvidia.com"].productName == "H100"'


def two_requests(a: int, b: int) -> dict[str, Any]:
    return {
        "name": "main",
        "members": [
            {
                "role": "Standalone",
                "nodeSelector": {
                    "devices": [
                        {"name": "first", "count": a, "selectors": [{"cel": H100}]},
                        {"name": "second", "count": b, "selectors": [{"cel": H100}]},
                    ]
                },
                "template": {"spec": {"containers": [{"name": "engine", "image": "vllm"}]}},
            }
        ],
    }


def test_two_requests_take_distinct_device_entries() -> None:
    p = plan(deployment("m", engines=[two_requests(4, 4)]), clusters=[cluster("c", [("p", "split", 1)])], classes=[SPLIT])
    assert p.condition.reason == "Scheduled", p.condition.message
    claims = p.replicas[0].engines[0].members[0].device_requests
    assert [(c.name, c.count) for c in claims] == [("first", 4), ("second", 4)]


def test_requests_beyond_what_a_node_has_are_refused_with_why() -> None:
    engine = two_requests(4, 4)
    engine["members"][0]["nodeSelector"]["devices"].append({"name": "third", "count": 1})
    p = plan(deployment("m", engines=[engine]), clusters=[cluster("c", [("p", "split", 2)])], classes=[SPLIT])
    assert p.condition.reason == "NoMatchingDevices"
    assert "cannot all be met on one node" in p.condition.message and "gpu-a 4, gpu-b 4" in p.condition.message


def test_search_backtracks_when_the_first_entry_is_the_wrong_one() -> None:
    """'first' matches both entries but 'second' only gpu-b: giving 'first' gpu-a works."""
    mixed = InferenceClass.model_validate(
        {
            "metadata": {"name": "mixed"},
            "spec": {
                "devices": [
                    {"name": "gpu-a", "driver": GPU, "deviceClassName": GPU, "count": 4, "attributes": {"productName": {"string": "H100"}}},
                    {"name": "gpu-b", "driver": GPU, "deviceClassName": GPU, "count": 4, "attributes": {"productName": {"string": "H200"}}},
                ]
            },
        }
    )
    engine = two_requests(4, 4)
    engine["members"][0]["nodeSelector"]["devices"][0]["selectors"] = []
    engine["members"][0]["nodeSelector"]["devices"][1]["selectors"] = [{"cel": 'device.attributes["gpu.nvidia.com"].productName == "H200"'}]
    p = plan(deployment("m", engines=[engine]), clusters=[cluster("c", [("p", "mixed", 1)])], classes=[mixed])
    assert p.condition.reason == "Scheduled", p.condition.message


# -- 2. an engine on a pool where only Synthetic devices match --------------------------------

NIC_ONLY = InferenceClass.model_validate(
    {"metadata": {"name": "nic-only"}, "spec": {"devices": [{"name": "gpu", "claim": "Synthetic", "driver": "net.example.com", "count": 8}]}}
)


def test_dra_cluster_refuses_a_synthetic_only_pool_and_prefers_a_real_device() -> None:
    c = cluster("k8s", [("a-synthetic", "nic-only", 4), ("b-real", "h100", 4)], source="Existing")
    p = plan(deployment("m", replicas=2), clusters=[c], classes=[NIC_ONLY, gpu_class("h100")])
    assert [e.pool for r in p.replicas for e in r.engines] == ["b-real", "b-real"]
    assert all(m.device_requests for r in p.replicas for e in r.engines for m in e.members)


def test_dra_cluster_with_only_a_synthetic_match_says_why() -> None:
    c = cluster("k8s", [("p", "nic-only", 4)], source="Existing")
    p = plan(deployment("m"), clusters=[c], classes=[NIC_ONLY])
    assert not p.replicas and p.condition.reason == "InsufficientCapacity"
    assert "p pool in k8s: only Synthetic devices (gpu)" in p.condition.message and "no device" in p.condition.message


def test_local_cluster_runs_on_its_synthetic_cpu() -> None:
    """A Local cluster claims nothing: its CPU class is what engines run on there."""
    c = cluster("local", [("p", "nic-only", 1)])
    assert plan(deployment("m"), clusters=[c], classes=[NIC_ONLY]).condition.reason == "Scheduled"


def test_a_request_that_a_real_and_a_synthetic_entry_meet_takes_the_real_one() -> None:
    both = InferenceClass.model_validate(
        {
            "metadata": {"name": "both"},
            "spec": {
                "devices": [
                    {"name": "slice", "claim": "Synthetic", "driver": "tpu.example.com", "count": 8},
                    {"name": "gpu", "driver": GPU, "deviceClassName": GPU, "count": 8},
                ]
            },
        }
    )
    p = plan(deployment("m"), clusters=[cluster("k8s", [("p", "both", 1)], source="Existing")], classes=[both])
    assert [c.device_class_name for c in p.replicas[0].engines[0].members[0].device_requests] == [GPU]


# -- 3. Modelplane's own ModelReplicas -------------------------------------------------------

MODELPLANE_REPLICA = """
apiVersion: modelplane.ai/v1alpha1
kind: ModelReplica
metadata:
  name: m-us-0
  namespace: default
  labels: {{modelplane.ai/deployment: m, modelplane.ai/replica-index: "{index}"}}
spec:
  clusterName: {cluster}
  engines:
  - name: main
    members:
    - role: Standalone
      nodePoolName: p
      deviceRequests: [{{name: gpu, deviceClassName: gpu.nvidia.com, count: 1}}]
      template: {{spec: {{containers: [{{name: engine, image: vllm}}]}}}}
"""


def modelplane_replica(*, name: str, cluster_name: str, index: int = 0) -> ModelReplica:
    [obj] = load_text(MODELPLANE_REPLICA.format(index=index, cluster=cluster_name).replace("m-us-0", name), source="replica.yaml")
    assert isinstance(obj, ModelReplica)
    return obj


def test_modelplane_replicas_are_read_and_kept() -> None:
    r = modelplane_replica(name="m-us-0", cluster_name="us")
    assert r.spec.engines[0].members[0].node_selector is None
    clusters = [cluster("us", [("p", "h100", 1)]), cluster("eu", [("p", "h100", 1)])]
    p = plan(deployment("m", replicas=2), clusters=clusters, classes=[gpu_class("h100")], replicas=[r])
    kept = [(x.name, x.cluster, x.retained) for x in p.replicas]
    assert ("m-us-0", "us", True) in kept and len(kept) == 2
    assert [x.cluster for x in p.replicas if not x.retained] == ["eu"]


def test_a_replica_engine_with_no_hardware_at_all_is_still_refused() -> None:
    text = MODELPLANE_REPLICA.format(index=0, cluster="us").replace("      nodePoolName: p\n", "").replace(
        "      deviceRequests: [{name: gpu, deviceClassName: gpu.nvidia.com, count: 1}]\n", ""
    )
    with pytest.raises(InvalidManifests) as e:
        load_text(text, source="replica.yaml")
    assert "nodeSelector.devices" in str(e.value)


# -- 4. replica indexes that collide ---------------------------------------------------------


def test_colliding_indexes_are_both_kept_and_charged() -> None:
    """Modelplane numbers per cluster: two running replicas both carry index 0."""
    clusters = [cluster("eu", [("p", "h100", 1)]), cluster("us", [("p", "h100", 1)])]
    running = [modelplane_replica(name="m-eu-0", cluster_name="eu"), modelplane_replica(name="m-us-0", cluster_name="us")]
    p = plan(deployment("m", replicas=2), clusters=clusters, classes=[gpu_class("h100")], replicas=running)
    assert sorted((x.index, x.name, x.cluster, x.retained) for x in p.replicas) == [(0, "m-eu-0", "eu", True), (1, "m-us-0", "us", True)]
    assert not p.removed_names and p.condition.reason == "Scheduled"
    grown = plan(deployment("m", replicas=3), clusters=clusters, classes=[gpu_class("h100")], replicas=running)
    assert len(grown.replicas) == 2, "both nodes are taken: a third replica must not land on either"
    assert grown.condition.reason == "InsufficientCapacity"


def test_colliding_indexes_scale_down_drops_the_renumbered_one() -> None:
    clusters = [cluster("eu", [("p", "h100", 1)]), cluster("us", [("p", "h100", 1)])]
    running = [modelplane_replica(name="m-eu-0", cluster_name="eu"), modelplane_replica(name="m-us-0", cluster_name="us")]
    p = plan(deployment("m", replicas=1), clusters=clusters, classes=[gpu_class("h100")], replicas=running)
    assert [x.name for x in p.replicas] == ["m-eu-0"] and p.removed_names == ("m-us-0",) and p.removed == (1,)


def test_canonical_name_keeps_its_index_and_new_names_never_collide() -> None:
    d = deployment("m", replicas=3)
    clusters = [cluster(n, [("p", "h100", 1)]) for n in ("a", "b", "c", "d")]
    placed = as_replicas(d, plan(d, clusters=clusters[:1], classes=[gpu_class("h100")]).replicas)  # m-0 on a
    stray = modelplane_replica(name="m-1", cluster_name="b", index=0)  # named like index 1, labelled 0
    p = plan(d, clusters=clusters, classes=[gpu_class("h100")], replicas=[*placed, stray])
    names = sorted((x.index, x.name) for x in p.replicas)
    assert names[:2] == [(0, "m-0"), (1, "m-1")] and len({n for _, n in names}) == 3
    assert names[2] == (2, "m-2")


def test_fleet_plan_accounts_for_every_input_replica() -> None:
    clusters = [cluster("eu", [("p", "h100", 2)]), cluster("us", [("p", "h100", 2)])]
    running = [modelplane_replica(name=f"m-{c}-0", cluster_name=c) for c in ("eu", "us")]
    [p] = plan_fleet([deployment("m", replicas=1)], clusters=clusters[:1], classes=[gpu_class("h100")], replicas=running)
    assert {x.name for x in p.replicas} | set(p.removed_names) == {"m-eu-0", "m-us-0"}


def test_laneway_plan_reads_a_running_modelplane_fleet(tmp_path: Any) -> None:
    """The whole command on Modelplane's objects: it used to exit 2 ("at least one member
    needs nodeSelector.devices"); now both colliding replicas are kept and nothing is added."""
    import json

    import yaml
    from click.testing import CliRunner

    from laneway.cli.plan import plan as plan_command

    docs = [gpu_class("h100").wire()]
    for name in ("eu", "us"):
        doc = cluster(name, [("p", "h100", 1)]).wire()
        doc.pop("status")
        docs.append(doc)
    docs.append(deployment("m", replicas=2).wire())
    text = yaml.safe_dump_all(docs) + "---" + MODELPLANE_REPLICA.format(index=0, cluster="eu").replace("m-us-0", "m-eu-0")
    text += "---" + MODELPLANE_REPLICA.format(index=0, cluster="us")
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    result = CliRunner().invoke(plan_command, ["-f", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    (d,) = json.loads(result.output)["deployments"]
    assert sorted((r["name"], r["cluster"], r["retained"]) for r in d["replicas"]) == [("m-eu-0", "eu", True), ("m-us-0", "us", True)]
    assert d["removedReplicas"] == []
