"""Tables, ages and documents as `laneway get` prints them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import yaml
from cli_objects import deployment, obj

from laneway.cli.output import age, as_document, render_documents, render_table, resource_table

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)


def stamp(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_age_reads_like_kubectl() -> None:
    assert age(stamp(timedelta(seconds=42)), NOW) == "42s"
    assert age(stamp(timedelta(minutes=3, seconds=5)), NOW) == "3m5s"
    assert age(stamp(timedelta(minutes=45)), NOW) == "45m"
    assert age(stamp(timedelta(hours=5)), NOW) == "5h"
    assert age(stamp(timedelta(days=3)), NOW) == "3d"
    assert age(stamp(timedelta(days=800)), NOW) == "2y"


def test_age_of_missing_or_future_timestamp() -> None:
    assert age(None, NOW) == "-"
    assert age("not a time", NOW) == "-"
    assert age(stamp(timedelta(seconds=-30)), NOW) == "0s"


def test_render_table_aligns_columns_and_trims_trailing_space() -> None:
    text = render_table([["a", "long-value", ""], ["bbbb", "x", "z"]], ["NAME", "V", "LAST"])
    assert text.splitlines() == [
        "NAME   V            LAST",
        "a      long-value",
        "bbbb   x            z",
    ]


def test_deployment_table_shows_ready_over_desired_replicas_and_age() -> None:
    md = deployment(**{"metadata.creationTimestamp": stamp(timedelta(minutes=30))})
    lines = resource_table([md], kind="ModelDeployment", now=NOW).splitlines()
    header, row = lines[0].split(), lines[1].split()
    assert header[:4] == ["NAME", "READY", "REPLICAS", "STATUS"] and header[-1] == "AGE"
    assert row[:4] == ["llama", "0/2", "0", "-"] and row[-1] == "30m"


def test_wide_adds_columns_and_all_namespaces_adds_namespace() -> None:
    md = deployment()
    lines = resource_table([md], kind="ModelDeployment", now=NOW, wide=True, show_namespace=True).splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert "IMAGES" in lines[0] and "CLUSTER-SELECTOR" in lines[0]
    assert "laneway/sim:latest" in lines[1]
    assert "laneway.dev/region=eu-west" in lines[1]
    assert lines[1].split()[0] == "ml-team"


def test_ready_column_reads_the_ready_condition() -> None:
    me = obj(
        """
apiVersion: laneway.dev/v1alpha1
kind: ModelEndpoint
metadata: {name: openai, namespace: ml-team}
spec: {url: "https://api.example.com/v1"}
status:
  conditions:
  - {type: Ready, status: "True", reason: Reachable}
"""
    )
    lines = resource_table([me], kind="ModelEndpoint", now=NOW).splitlines()
    assert lines[0].split() == ["NAME", "URL", "READY", "STATUS", "AGE"]
    assert lines[1].split()[:3] == ["openai", "https://api.example.com/v1", "True"]


def test_replica_table_shows_cluster_and_pool() -> None:
    mr = obj(
        """
apiVersion: laneway.dev/v1alpha1
kind: ModelReplica
metadata: {name: llama-0, namespace: ml-team}
spec:
  clusterName: local-eu
  engines:
  - name: main
    members:
    - nodePoolName: cpu
      nodeSelector: {devices: [{name: cpu}]}
      template: {spec: {containers: [{name: engine, image: sim}]}}
status: {phase: Running}
"""
    )
    lines = resource_table([mr], kind="ModelReplica", now=NOW, show_kind=True).splitlines()
    assert lines[0].split() == ["NAME", "CLUSTER", "POOL", "READY", "STATUS", "PHASE", "AGE"]
    assert lines[1].split()[:6] == ["modelreplica/llama-0", "local-eu", "cpu", "-", "-", "Running"]


def test_json_of_one_object_is_the_object_and_of_many_a_list() -> None:
    md = deployment()
    one = json.loads(render_documents([md], output="json", single=True))
    assert one["kind"] == "ModelDeployment" and one["metadata"]["name"] == "llama"
    many = json.loads(render_documents([md, md], output="json", single=False))
    assert many["kind"] == "List" and len(many["items"]) == 2
    assert as_document([], single=False) == {"apiVersion": "v1", "kind": "List", "items": []}


def test_yaml_round_trips() -> None:
    md = deployment()
    doc = yaml.safe_load(render_documents([md], output="yaml", single=True))
    assert doc == md.wire()


def test_every_kind_has_a_table_that_renders() -> None:
    from laneway.api.registry import KINDS
    from laneway.cli.columns import COLUMNS

    assert {i.kind for i in KINDS} <= set(COLUMNS)


def test_cache_table_counts_clusters_past_three() -> None:
    cache = obj(
        """
apiVersion: laneway.dev/v1alpha1
kind: ModelCache
metadata: {name: weights, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: org/model}}
""",
        status={"clusters": [{"cluster": f"c{i}", "state": "Pending"} for i in range(12)]},
    )
    table = resource_table([cache], kind="ModelCache", now=NOW)
    assert "c0=Pending,c1=Pending,c2=Pending,+9 more" in table and "c3=" not in table


def test_wide_cluster_table_shows_the_engines_a_local_cluster_allows() -> None:
    def cluster(name: str, block: str) -> object:
        return obj(f"""
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {{name: {name}}}
spec: {{cluster: {block}}}
""")

    clusters = [
        cluster("a-default", "{source: Local, local: {}}"),
        cluster("b-open", "{source: Local, local: {engines: [{name: sim, command: [laneway, engine, sim]}, {name: any, allowCommand: true}]}}"),
        cluster("c-closed", "{source: Local, local: {engines: []}}"),
        cluster("d-kube", "{source: Existing, existing: {secretRef: {name: kc}}}"),
    ]
    lines = resource_table(clusters, kind="InferenceCluster", now=NOW, wide=True).splitlines()  # type: ignore[arg-type]
    assert lines[0].split()[-2:] == ["ENGINES", "AGE"]
    column = lines[0].index("ENGINES")
    assert [line[column:].rsplit(None, 1)[0].strip() for line in lines[1:]] == ["sim,llamacpp", "sim,any!", "none allowed", "-"]


def test_a_machines_cluster_table_counts_the_ready_machines_joined_and_names_them() -> None:
    rack = obj("""
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {name: rack}
spec:
  cluster: {source: Machines}
  nodePools: [{name: h200, className: rack-h200, nodeCount: 5}, {name: cpu, className: rack-cpu}]
""", status={"gpuPools": [{"name": "h200", "nodes": 1, "devices": 1}, {"name": "cpu", "nodes": 0, "devices": 0}],
             "machines": [{"name": "gpu-a", "pool": "h200", "ready": True}, {"name": "gpu-b", "pool": "h200", "ready": False}]})
    lines = resource_table([rack], kind="InferenceCluster", now=NOW, wide=True).splitlines()  # type: ignore[list-item]
    assert "h200(rack-h200)x1,cpu(rack-cpu)x0" in lines[1], "not the manifest's nodeCount: the Ready machines"
    assert "gpu-a(h200),gpu-b(h200,NotReady)" in lines[1]
