"""Rules and defaults of the platform kinds, the serving kinds, caches and Secrets."""

from __future__ import annotations

from typing import Any

from api_builders import cls, cluster, only_problem, problems

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.platform import InferenceClass, InferenceCluster, InferenceGateway
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.manifest import parse_object
from laneway.api.registry import lookup


def test_class_device_defaults() -> None:
    c = parse_object(cls())
    assert isinstance(c, InferenceClass)
    assert c.spec.devices[0].claim == "DRA" and c.spec.devices[0].count == 1


def test_dra_device_needs_device_class_name() -> None:
    doc = cls()
    del doc["spec"]["devices"][0]["deviceClassName"]
    path, msg = only_problem(doc)
    assert path == "spec.devices[0].deviceClassName" and "Synthetic" in msg
    doc["spec"]["devices"][0]["claim"] = "Synthetic"
    parse_object(doc)


def test_attribute_holds_exactly_one_value() -> None:
    path, msg = only_problem(cls(attributes={"arch": {"string": "Hopper", "int": 9}}))
    assert path == "spec.devices[0].attributes.arch" and "exactly one" in msg
    assert "expected true or false" in only_problem(cls(attributes={"nvlink": {"bool": "yes"}}))[1]


def test_provisioning_needs_its_provider_block() -> None:
    doc = cls()
    doc["spec"]["provisioning"] = {"provider": "GKE"}
    path, msg = only_problem(doc)
    assert path == "spec.provisioning.gke" and "GKE" in msg
    doc["spec"]["provisioning"]["gke"] = {"machineType": "a3-highgpu-8g"}
    parse_object(doc)


def test_unique_device_names() -> None:
    doc = cls()
    doc["spec"]["devices"].append(dict(doc["spec"]["devices"][0]))
    assert "unique" in only_problem(doc)[1]


def test_cluster_sources() -> None:
    c = parse_object(cluster())
    assert isinstance(c, InferenceCluster) and c.spec.node_pools[0].node_count == 1
    path, msg = only_problem(cluster(cluster={"source": "Existing"}))
    assert path == "spec.cluster.existing" and "kubeconfig" in msg
    existing = parse_object(cluster(cluster={"source": "Existing", "existing": {"secretRef": {"name": "kc"}}}))
    assert isinstance(existing, InferenceCluster)
    assert existing.spec.cluster.existing is not None and existing.spec.cluster.existing.secret_ref.key == "kubeconfig"
    assert only_problem(cluster(cluster={"source": "EKS"}))[0] == "spec.cluster.eks"
    assert "must be one of" in only_problem(cluster(cluster={"source": "Moon"}))[1]


def test_node_pool_rules() -> None:
    path, msg = only_problem(cluster(nodePools=[{"name": "p", "className": "h100", "minNodeCount": 3, "maxNodeCount": 1}]))
    assert path == "spec.nodePools[0].minNodeCount" and "above maxNodeCount" in msg
    path, msg = only_problem(cluster(nodePools=[{"name": "p"}]))
    assert path == "spec.nodePools[0].className"
    system = parse_object(cluster(nodePools=[{"name": "system", "role": "System", "instanceType": "e2-standard-8"}]))
    assert isinstance(system, InferenceCluster) and system.spec.node_pools[0].published_nodes == 0
    assert "unique" in only_problem(cluster(nodePools=[{"name": "p", "className": "a"}, {"name": "p", "className": "b"}]))[1]


def test_fabric_object_or_shorthand() -> None:
    c = parse_object(cluster(nodePools=[{"name": "p", "className": "h", "fabric": "EFA"}]))
    assert isinstance(c, InferenceCluster) and c.spec.node_pools[0].fabric is not None
    assert c.spec.node_pools[0].fabric.type == "EFA"
    doc = cluster(nodePools=[{"name": "p", "className": "h", "fabric": {"type": "EFA", "infiniband": {"fabric": "f2"}}}])
    assert only_problem(doc)[0] == "spec.nodePools[0].fabric.infiniband"


def test_taints() -> None:
    assert "required" in only_problem(cluster(taints=[{"key": "gpu"}]))[1]
    assert "once per effect" in only_problem(
        cluster(taints=[{"key": "a", "effect": "NoSchedule"}, {"key": "a", "value": "x", "effect": "NoSchedule"}])
    )[1]


def test_placement_labels_not_reserved() -> None:
    doc = cluster(placement={"metadata": {"labels": {"modelplane.ai/region": "eu"}}})
    doc["apiVersion"] = "modelplane.ai/v1alpha1"
    assert "reserved" in only_problem(doc)[1]


def test_short_names_are_modelplanes() -> None:
    assert lookup("icl").kind == "InferenceClass"
    assert lookup("ic").kind == "InferenceCluster"
    assert {k: lookup(k).kind for k in ("ig", "md", "mr", "ms", "me", "mc", "tk")} == {
        "ig": "InferenceGateway",
        "md": "ModelDeployment",
        "mr": "ModelReplica",
        "ms": "ModelService",
        "me": "ModelEndpoint",
        "mc": "ModelCache",
        "tk": "InferenceTicket",
    }


def _endpoint(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelEndpoint", "metadata": {"name": "e", "namespace": "n"}, "spec": spec}


def test_endpoint_url() -> None:
    assert "http" in only_problem(_endpoint(url="ftp://x"))[1]
    assert only_problem(_endpoint())[0] == "spec.url"


def test_modelplane_endpoint_shape_fills_url_and_auth() -> None:
    me = parse_object(
        _endpoint(origin="https://api.together.xyz", api={"prefix": "/v1"}, credential={"apiKey": {"secretRef": {"name": "k"}}})
    )
    assert isinstance(me, ModelEndpoint)
    assert me.spec.url == "https://api.together.xyz/v1"
    assert me.spec.auth is not None and me.spec.auth.secret_ref.name == "k"


def _service(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"endpoints": list(entries)},
    }


def test_service_entry_defaults() -> None:
    ms = parse_object(_service({"selector": {"matchLabels": {"a": "b"}}}))
    assert isinstance(ms, ModelService)
    entry = ms.spec.endpoints[0]
    assert (entry.weight, entry.tier, entry.priority) == (1, "Primary", 0)


def test_service_rules() -> None:
    assert "match every endpoint" in only_problem(_service({"selector": {}}))[1]
    assert only_problem(_service())[1] == "needs at least 1 item, got 0"
    sel = {"matchLabels": {"a": "b"}}
    assert "unique" in only_problem(_service({"name": "x", "selector": sel}, {"name": "x", "selector": sel}))[1]
    assert "must be one of 'Primary', 'Overflow', 'BreakGlass'" in only_problem(_service({"tier": "Gold", "selector": sel}))[1]
    assert "needs at least one value" in only_problem(
        _service({"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}})
    )[1]


def _cache(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelCache", "metadata": {"name": "c", "namespace": "n"}, "spec": spec}


def test_cache_source_blocks() -> None:
    mc = parse_object(_cache(source="HuggingFace", huggingFace={"repo": "Qwen/Qwen3-8B", "sizeGiB": 20}))
    assert isinstance(mc, ModelCache) and mc.spec.hugging_face is not None and mc.spec.hugging_face.size_gib == 20
    assert only_problem(_cache(source="S3"))[0] == "spec.s3"
    path, _ = only_problem(_cache(source="Local", local={"path": "/m"}, http={"url": "http://x"}))
    assert path == "spec.http"
    assert "s3://" in only_problem(_cache(source="S3", s3={"uri": "bucket/x"}))[1]
    assert "owner/name" in only_problem(_cache(source="HuggingFace", huggingFace={"repo": "not a repo"}))[1]


def test_gateway_defaults() -> None:
    ig = parse_object({"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceGateway", "metadata": {"name": "g"}})
    assert isinstance(ig, InferenceGateway) and ig.spec.policy.require_api_key is False


def test_secret_string_data_and_bad_base64() -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"k": "v"}}
    s = parse_object(doc)
    assert s.value("k") == "v"  # type: ignore[attr-defined]
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"k": "!!"}}
    assert "stringData" in only_problem(doc)[1]


def test_metadata_name_rules() -> None:
    doc = cls()
    doc["metadata"]["name"] = "H100_big"
    path, msg = only_problem(doc)
    assert path == "metadata.name" and "DNS-1123" in msg
    assert problems(cls(count="eight"))[0][1] == "expected an integer, got 'eight'"
