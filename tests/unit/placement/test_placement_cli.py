"""`laneway plan` offline: table and JSON output, exit codes."""

import json

import yaml
from click.testing import CliRunner

from laneway.cli.plan import plan

from .placement_builders import cluster, deployment, gpu_class

BIG = 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("141Gi")) >= 0'


def write_fleet(tmp_path, replicas=3):
    docs = [gpu_class("h100").wire(), gpu_class("h200", memory="141Gi").wire()]
    for c in (cluster("us-east-1", [("gpu-h100", "h100", 2), ("gpu-h200", "h200", 1)], labels={"region": "us-east"}), cluster("eu-west-1", [("a", "h200", 4)], labels={"region": "eu-west"})):
        doc = c.wire()
        doc.pop("status")  # plan assumes Ready with a gateway
        docs.append(doc)
    docs.append(deployment("llama", replicas=replicas, selectors=[BIG], match_labels={"region": "us-east"}).wire())
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_json_shape_and_short_plan_exits_zero(tmp_path):
    result = CliRunner().invoke(plan, ["-f", str(write_fleet(tmp_path)), "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    (d,) = doc["deployments"]
    assert (d["namespace"], d["name"], d["wanted"]) == ("default", "llama", 3)
    (r,) = d["replicas"]
    assert r["index"] == 0 and r["cluster"] == "us-east-1"
    member = r["engines"][0]["members"][0]
    assert member["pool"] == "gpu-h200" and member["deviceRequests"][0]["deviceClassName"] == "gpu.nvidia.com"
    assert d["conditions"][0]["reason"] == "InsufficientCapacity"
    assert "eu-west-1: not selected (region=us-east wanted)" in d["reasons"]


def test_table_output(tmp_path):
    result = CliRunner().invoke(plan, ["-f", str(write_fleet(tmp_path, replicas=1))])
    assert result.exit_code == 0, result.output
    assert "default/llama: 1 of 1 replicas placed (Scheduled)" in result.output
    assert "gpu-h200" in result.output


def test_invalid_input_exits_two(tmp_path):
    from laneway.cli.main import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: laneway.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: x}\nspec: {replicas: -1}\n")
    result = CliRunner().invoke(main, ["plan", "-f", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "nothing was planned" in result.output and "applied" not in result.output
    assert "spec.replicas" in result.output


def test_existing_replicas_are_kept_and_a_replica_without_index_is_refused(tmp_path):
    from laneway.cli.main import main
    from laneway.placement import plan as schedule

    fleet = write_fleet(tmp_path, replicas=1)
    d = deployment("llama", replicas=1, selectors=[BIG], match_labels={"region": "us-east"})
    clusters = [cluster("us-east-1", [("gpu-h100", "h100", 2), ("gpu-h200", "h200", 1)], labels={"region": "us-east"})]
    (placed,) = schedule(d, clusters=clusters, classes=[gpu_class("h100"), gpu_class("h200", memory="141Gi")]).replicas
    from laneway.placement.compose import compose_replica

    replica = compose_replica(d, placed).wire()
    replica.pop("status", None)
    kept = tmp_path / "replica.yaml"
    kept.write_text(yaml.safe_dump(replica))
    result = CliRunner().invoke(main, ["plan", "-f", str(fleet), "-f", str(kept), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["deployments"][0]["replicas"][0]["retained"] is True

    del replica["metadata"]["labels"]["laneway.dev/replica-index"]
    kept.write_text(yaml.safe_dump(replica))
    result = CliRunner().invoke(main, ["plan", "-f", str(fleet), "-f", str(kept)])
    assert result.exit_code == 2
    assert "laneway.dev/replica-index label is missing" in result.output and "Traceback" not in result.output
