"""Pure cache rules: the placement and start gates, path safety."""

from __future__ import annotations

import pytest

from laneway.api.kinds.cache import ClusterCacheStatus, ModelCache
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.errors import SourceInvalid
from laneway.cache.gate import placement_gate, start_wait, users_of
from laneway.cache.sources.base import check_relative
from laneway.cache.sources.s3 import parse_credentials
from laneway.control.cache import ready_condition
from laneway.placement.model import ScheduledCondition


def cache(selector: dict | None = None, clusters: list[dict] | None = None, **spec: object) -> ModelCache:
    body = {"source": "HTTP", "http": {"url": "https://example.com/m.gguf", "sizeGiB": 2}, **spec}
    if selector:
        body["clusterSelector"] = {"matchLabels": selector}
    return ModelCache.model_validate(
        {"metadata": {"name": "tiny", "namespace": "ml", "uid": "u1"}, "spec": body, "status": {"clusters": clusters or []}}
    )


def cluster(name: str, **labels: str) -> InferenceCluster:
    return InferenceCluster.model_validate(
        {"metadata": {"name": name, "labels": labels}, "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": []}}
    )


ENGINES = [{"name": "main", "members": [{"nodeSelector": {"devices": [{"name": "cpu"}]}, "template": {"spec": {"containers": [{"name": "engine", "image": "x"}]}}}]}]


def deployment(cache_name: str | None = "tiny") -> ModelDeployment:
    spec: dict = {"engines": ENGINES}
    if cache_name:
        spec["modelCacheRef"] = {"name": cache_name}
    return ModelDeployment.model_validate({"metadata": {"name": "chat", "namespace": "ml"}, "spec": {"template": {"spec": spec}}})


def replica(cluster_name: str = "a") -> ModelReplica:
    return ModelReplica.model_validate(
        {"metadata": {"name": "chat-0", "namespace": "ml"}, "spec": {"clusterName": cluster_name, "modelCacheRef": {"name": "tiny"}, "engines": ENGINES}}
    )


def test_placement_keeps_only_clusters_the_cache_selects() -> None:
    gate = placement_gate(deployment(), [cluster("a", gpu="yes"), cluster("b")], cache({"gpu": "yes"}))
    assert [c.name for c in gate.clusters] == ["a"]
    assert gate.reason and "widen the cache's clusterSelector" in gate.reason
    explained = gate.explain(ScheduledCondition("False", "InsufficientCapacity", "1 of 2 replicas placed: full"))
    assert "ModelCache 'tiny'" in explained.message


def test_placement_without_cache_ref_is_untouched() -> None:
    clusters = [cluster("a"), cluster("b")]
    gate = placement_gate(deployment(None), clusters, None)
    assert gate.clusters == clusters and gate.reason is None


def test_missing_cache_places_nowhere_and_says_to_create_it() -> None:
    gate = placement_gate(deployment(), [cluster("a")], None)
    assert gate.clusters == [] and "create it" in (gate.reason or "")


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], "waiting for cache tiny on cluster a (not started there yet)"),
        ([{"cluster": "a", "state": "Hydrating", "bytes": 10}], "waiting for cache tiny on cluster a (Hydrating, 10 bytes so far)"),
        ([{"cluster": "a", "state": "Failed", "message": "404"}], "waiting for cache tiny on cluster a (Failed: 404)"),
        ([{"cluster": "a", "state": "Ready", "bytes": 10}], None),
    ],
)
def test_start_waits_for_ready_on_its_own_cluster(entries: list[dict], expected: str | None) -> None:
    assert start_wait(replica("a"), cache(clusters=entries)) == expected


def test_ready_elsewhere_does_not_count() -> None:
    assert start_wait(replica("b"), cache(clusters=[{"cluster": "a", "state": "Ready"}])) is not None


def test_users_are_deployments_in_the_same_namespace_that_reference_it() -> None:
    other = deployment().model_copy(update={"metadata": deployment().metadata.model_copy(update={"namespace": "other"})})
    assert [d.name for d in users_of(cache(), [deployment(), deployment(None), other])] == ["chat"]


def test_ready_condition_names_what_is_missing() -> None:
    entries = [ClusterCacheStatus(cluster="a", state="Ready"), ClusterCacheStatus(cluster="b", state="Hydrating")]
    c = ready_condition(entries)
    assert (c.status, c.reason) == ("False", "Hydrating") and "b (Hydrating)" in c.message
    assert ready_condition([]).reason == "NoClusters"
    assert ready_condition([ClusterCacheStatus(cluster="a", state="Failed", message="boom")]).message == "a: boom"


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs", "a//b", "x/.laneway-cache.json", "f.part", ""])
def test_listed_paths_cannot_escape_the_cache(path: str) -> None:
    with pytest.raises(SourceInvalid):
        check_relative(path, where="test")


def test_s3_credentials_in_json_or_ini_form() -> None:
    assert parse_credentials('{"accessKeyId": "A", "secretAccessKey": "S"}').access_key_id == "A"
    creds = parse_credentials("[default]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\n")
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("A", "S", "T")
    with pytest.raises(SourceInvalid, match="secret access key"):
        parse_credentials('{"accessKeyId": "A"}')
