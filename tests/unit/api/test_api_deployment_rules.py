"""ModelDeployment rules, each refused with the field to change, and its defaults."""

from __future__ import annotations

import datetime

import pytest
from api_builders import deployment, engine, member, only_problem, problems
from pydantic import ValidationError

from laneway.api.kinds.deployment import MAX_CEL_BYTES, ModelCacheRef, ModelDeployment
from laneway.api.manifest import parse_object

ENGINES = "spec.template.spec.engines"


def _parse(doc: dict) -> ModelDeployment:
    md = parse_object(doc)
    assert isinstance(md, ModelDeployment)
    return md


def test_defaults_are_modelplanes() -> None:
    md = _parse(deployment())
    e = md.spec.template.spec.engines[0]
    assert md.spec.replicas == 1
    assert md.spec.template.spec.serving.mode == "Unified"
    assert e.copies == 1
    assert e.members[0].role == "Standalone"
    assert e.members[0].node_selector is not None
    assert e.members[0].node_selector.devices[0].count == 1


def test_role_defaults_to_standalone() -> None:
    m = member()
    del m["role"]
    assert _parse(deployment(engines=[engine(members=[m])])).spec.template.spec.engines[0].members[0].role == "Standalone"


def test_replicas_zero_and_beyond_modelplanes_cap_of_ten() -> None:
    assert _parse(deployment(spec={"replicas": 0})).spec.replicas == 0
    assert _parse(deployment(spec={"replicas": 50})).spec.replicas == 50
    path, msg = only_problem(deployment(spec={"replicas": -1}))
    assert path == "spec.replicas" and "at least 0" in msg


def test_leader_with_workers_is_an_engine() -> None:
    md = _parse(deployment(engines=[engine(members=[member("Leader"), member("Worker", worker={"nodes": 3})])]))
    assert md.spec.template.spec.engines[0].members[1].pods == 3


def test_coordinator_only_leader_may_omit_its_node_selector() -> None:
    _parse(deployment(engines=[engine(members=[member("Leader", devices=False), member("Worker")])]))


def test_standalone_must_be_alone() -> None:
    path, msg = only_problem(deployment(engines=[engine(members=[member("Standalone"), member("Worker")])]))
    assert path == f"{ENGINES}[0].members[0].role"
    assert "only member" in msg


def test_leader_needs_a_worker() -> None:
    path, msg = only_problem(deployment(engines=[engine(members=[member("Leader")])]))
    assert path == f"{ENGINES}[0].members"
    assert "one Leader plus at least one Worker" in msg and "found Leader" in msg


def test_two_leaders_refused() -> None:
    path, _ = only_problem(deployment(engines=[engine(members=[member("Leader"), member("Leader"), member("Worker")])]))
    assert path == f"{ENGINES}[0].members"


def test_worker_block_only_on_a_worker() -> None:
    doc = deployment(engines=[engine(members=[member("Leader", worker={"nodes": 2}), member("Worker")])])
    path, msg = only_problem(doc)
    assert path == f"{ENGINES}[0].members[0].worker"
    assert "role is Leader" in msg


def test_some_member_needs_a_node_selector() -> None:
    path, msg = only_problem(deployment(engines=[engine(members=[member(devices=False)])]))
    assert path == f"{ENGINES}[0].members"
    assert "nodeSelector.devices" in msg


def test_empty_node_selector_refused() -> None:
    m = member()
    m["nodeSelector"] = {"devices": []}
    path, msg = only_problem(deployment(engines=[engine(members=[m])]))
    assert path == f"{ENGINES}[0].members[0].nodeSelector.devices"
    assert "at least one device request" in msg


def test_prefill_decode_pair() -> None:
    ok = deployment(
        engines=[engine("prefill", phase="Prefill"), engine("decode", phase="Decode")], serving={"mode": "PrefillDecode"}
    )
    assert _parse(ok).spec.template.spec.serving.mode == "PrefillDecode"


def test_prefill_decode_needs_one_of_each() -> None:
    doc = deployment(engines=[engine("a", phase="Prefill"), engine("b", phase="Prefill")], serving={"mode": "PrefillDecode"})
    path, msg = only_problem(doc)
    assert path == "spec.template.spec.engines"
    assert "one with phase: Prefill and one with phase: Decode" in msg


def test_prefill_decode_needs_exactly_two_engines() -> None:
    doc = deployment(engines=[engine("a", phase="Prefill")], serving={"mode": "PrefillDecode"})
    assert only_problem(doc)[0] == "spec.template.spec.engines"


def test_phase_refused_under_unified() -> None:
    path, msg = only_problem(deployment(engines=[engine("a"), engine("b", phase="Decode")]))
    assert path == f"{ENGINES}[1].phase"
    assert "PrefillDecode" in msg


def test_exactly_one_container_named_engine() -> None:
    m = member()
    m["template"]["spec"]["containers"][0]["name"] = "server"
    path, msg = only_problem(deployment(engines=[engine(members=[m])]))
    assert path == f"{ENGINES}[0].members[0].template.spec.containers"
    assert "named 'engine'" in msg and "'server'" in msg
    m["template"]["spec"]["containers"] = [{"name": "engine", "image": "x"}, {"name": "sidecar", "image": "y"}]
    assert "exactly one container" in only_problem(deployment(engines=[engine(members=[m])]))[1]


def test_cel_bounded_to_10_kib() -> None:
    def with_cel(cel: str) -> dict:
        m = member()
        m["nodeSelector"]["devices"][0]["selectors"] = [{"cel": cel}]
        return deployment(engines=[engine(members=[m])])

    _parse(with_cel("x" * MAX_CEL_BYTES))
    path, msg = only_problem(with_cel("x" * (MAX_CEL_BYTES + 1)))
    assert path.endswith("nodeSelector.devices[0].selectors[0].cel")
    assert "10 KiB" in msg
    assert "empty" in only_problem(with_cel("  "))[1]


def test_counts_and_lists_bounded() -> None:
    assert only_problem(deployment(engines=[engine(copies=0)]))[0] == f"{ENGINES}[0].copies"
    assert "at most 8" in only_problem(deployment(engines=[engine(f"e{i}") for i in range(9)]))[1]
    m = member()
    m["nodeSelector"]["devices"][0]["count"] = 100000
    assert "at most" in only_problem(deployment(engines=[engine(members=[m])]))[1]
    assert only_problem(deployment(engines=[]))[1] == "needs at least 1 item, got 0"


def test_engine_names_unique_and_dns() -> None:
    path, msg = only_problem(deployment(engines=[engine("a"), engine("a")]))
    assert path == f"{ENGINES}[1].name" and "unique" in msg
    assert "DNS-1123" in only_problem(deployment(engines=[engine("Big_Engine")]))[1]


def test_tolerations() -> None:
    _parse(deployment(tolerations=[{"operator": "Exists"}, {"key": "gpu", "value": "h100", "effect": "NoSchedule"}]))
    path, msg = only_problem(deployment(tolerations=[{"value": "x"}]))
    assert path == "spec.template.spec.tolerations[0].key" and "Equal" in msg
    path, msg = only_problem(deployment(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]))
    assert path == "spec.template.spec.tolerations[0].value" and "Exists takes no 'value'" in msg


def test_template_labels_may_not_use_the_system_prefix() -> None:
    doc = deployment()
    doc["spec"]["template"]["metadata"] = {"labels": {"laneway.dev/deployment": "x"}}
    path, msg = only_problem(doc)
    assert path == "spec.template.metadata.labels" and "reserved prefix" in msg


def test_modelplane_prefix_is_reserved_too_after_translation() -> None:
    doc = deployment()
    doc["apiVersion"] = "modelplane.ai/v1alpha1"
    doc["spec"]["template"]["metadata"] = {"labels": {"modelplane.ai/deployment": "x"}}
    assert "reserved prefix" in only_problem(doc)[1]


def test_member_pod_labels_checked() -> None:
    m = member()
    m["template"]["metadata"] = {"labels": {"laneway.dev/x": "y"}}
    path, msg = only_problem(deployment(engines=[engine(members=[m])]))
    assert path == f"{ENGINES}[0].members[0].template.metadata.labels" and "reserved" in msg


def test_invalid_label_value() -> None:
    doc = deployment()
    doc["spec"]["template"]["metadata"] = {"labels": {"tier": "not valid!"}}
    assert "invalid value" in only_problem(doc)[1]


def test_autoscaling_bounds() -> None:
    doc = deployment(spec={"autoscaling": {"minReplicas": 5, "maxReplicas": 2}})
    path, msg = only_problem(doc)
    assert path == "spec.autoscaling.minReplicas" and "above maxReplicas" in msg
    md = _parse(deployment(spec={"autoscaling": {"maxReplicas": 4, "scaleToZeroAfter": "10m"}}))
    assert md.spec.autoscaling is not None and md.spec.autoscaling.min_replicas == 0
    assert "duration" in only_problem(deployment(spec={"autoscaling": {"maxReplicas": 4, "scaleToZeroAfter": "soon"}}))[1]


def test_retire_after_accepts_a_yaml_date() -> None:
    md = _parse(deployment(spec={"retireAfter": datetime.date(2027, 6, 30)}))
    assert md.spec.retire_after == "2027-06-30"
    assert "YYYY-MM-DD" in only_problem(deployment(spec={"retireAfter": "next june"}))[1]


def test_earlier_flat_form_reads_as_template() -> None:
    doc = {
        "apiVersion": "modelplane.ai/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "old", "namespace": "ml-team"},
        "spec": {"replicas": 2, "modelCacheRef": {"name": "w"}, "engines": [engine()]},
    }
    md = _parse(doc)
    assert md.spec.template.spec.model_cache_ref is not None
    assert md.spec.template.spec.model_cache_ref.name == "w"
    assert md.spec.template.spec.engines[0].name == "main"


def test_several_problems_reported_together() -> None:
    doc = deployment(spec={"replicas": "two", "revisionHistoryLimit": -1})
    paths = {p for p, _ in problems(doc)}
    assert {"spec.replicas", "spec.revisionHistoryLimit"} <= paths


def test_a_deployment_never_names_its_cluster() -> None:
    """Rule 1: only the scheduler sets clusterName (on a ModelReplica); a deployment that tries
    is refused with the field to use instead."""
    path, msg = only_problem(deployment(clusterName="local"))
    assert path == "spec.template.spec.clusterName"
    assert "never names its cluster" in msg and "clusterSelector" in msg
    doc = deployment()
    doc["spec"]["clusterName"] = "local"
    path, msg = only_problem(doc)
    assert path == "spec.clusterName" and "clusterSelector" in msg


def test_a_cache_reference_is_an_object_name_never_a_path() -> None:
    """Issue #11: the name becomes part of the directory a Local engine's cache is mounted from."""
    for bad in ("../../..", "a/b", "", "A"):
        with pytest.raises(ValidationError, match=r"modelCacheRef\.name"):
            ModelCacheRef.model_validate({"name": bad})
