"""Whose word an endpoint's labels are for the data boundary (`laneway.gateway.provenance`).

Each case is a field the team lane can set (an endpoint's labels, a deployment template's
labels, a ticket's own overflow url and labels) used to claim a place it is not in."""

from __future__ import annotations

from typing import Any

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import ExternalProvider
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import BOUNDARY_LABELS_ANNOTATION, CLUSTER_LABEL, WRITTEN_BY_ANNOTATION
from laneway.control.replica import desired_endpoints
from laneway.drivers.base import ReplicaObservation, ServingAddress
from laneway.gateway.provenance import boundary_evidence, boundary_refusal
from laneway.gateway.unvouched import unvouched_endpoints
from laneway.gateway.weights import weights

JURISDICTION = "laneway.dev/jurisdiction"
EU = {JURISDICTION: "eu"}
US_PROVIDER = ExternalProvider(name="together-us", url="https://api.together.xyz/v1", labels={JURISDICTION: "us"})
EU_PROVIDER = ExternalProvider(name="mistral-eu", url="https://api.mistral.ai/v1", labels=EU)


def ep(url: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> ModelEndpoint:
    return ModelEndpoint.model_validate(
        {"metadata": {"name": "e", "namespace": "ml", "labels": {"app": "m", **labels}, "annotations": annotations or {}},
         "spec": {"url": url}}
    )


def eu_only(**boundary: Any) -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": "s", "namespace": "ml"},
        "spec": {"endpoints": [{"tier": "Overflow", "selector": {"matchLabels": {"app": "m"}}}],
                 "dataBoundary": boundary or {"matchLabels": EU}},
    })


def routed(service: ModelService, endpoint: ModelEndpoint, providers: tuple[ExternalProvider, ...] = ()) -> bool:
    return bool(weights(service, [endpoint], providers=providers).entries)


def test_a_team_label_is_not_evidence_at_a_host_nobody_vouches_for() -> None:
    team = ep("https://api.together.xyz/v1", EU, {WRITTEN_BY_ANNOTATION: "team"})
    assert boundary_evidence(team).labels is None
    assert not routed(eu_only(), team)
    # unknown fails a NotIn too: absence of a label is not knowledge of the place
    not_us = eu_only(matchExpressions=[{"key": JURISDICTION, "operator": "NotIn", "values": ["us"]}])
    assert not routed(not_us, team)
    reason = boundary_refusal(team, not_us.spec.data_boundary)
    assert reason is not None and "at no host the platform vouches for" in reason
    # an endpoint with no stamp at all (written straight to the store) is no better
    assert not routed(eu_only(), ep("https://api.together.xyz/v1", EU))


def test_a_team_endpoint_at_a_vouched_host_is_judged_on_the_platforms_labels() -> None:
    relabelled = ep("https://api.together.xyz/v1/", EU, {WRITTEN_BY_ANNOTATION: "team"})
    assert not routed(eu_only(), relabelled, (US_PROVIDER, EU_PROVIDER))
    reason = boundary_refusal(relabelled, eu_only().spec.data_boundary, (US_PROVIDER,))
    assert reason == ("outside the data boundary (the platform vouches for api.together.xyz as provider together-us, "
                      "whose labels do not satisfy laneway.dev/jurisdiction=eu)")
    # the same host on another port is another place
    assert not routed(eu_only(), ep("https://api.mistral.ai:8443/v1", EU, {WRITTEN_BY_ANNOTATION: "team"}), (EU_PROVIDER,))
    unlabelled = ep("https://API.mistral.ai/v2", {}, {WRITTEN_BY_ANNOTATION: "team"})
    assert routed(eu_only(), unlabelled, (EU_PROVIDER,))


def test_two_providers_at_one_host_vouch_only_for_what_they_agree_on() -> None:
    other = ExternalProvider(name="mistral-us", url="https://api.mistral.ai/v1", labels={JURISDICTION: "us"})
    team = ep("https://api.mistral.ai/v1", EU, {WRITTEN_BY_ANNOTATION: "team"})
    assert boundary_evidence(team, (EU_PROVIDER, other)).labels == {}
    assert not routed(eu_only(), team, (EU_PROVIDER, other))


def test_platform_written_endpoints_keep_their_labels_and_laneway_written_only_the_listed_ones() -> None:
    assert routed(eu_only(), ep("https://api.together.xyz/v1", EU, {WRITTEN_BY_ANNOTATION: "platform"}))
    listed = ep("http://10.0.0.5:8000", {**EU, "region": "us-east"},
                {WRITTEN_BY_ANNOTATION: "laneway", BOUNDARY_LABELS_ANNOTATION: "region"})
    assert boundary_evidence(listed).labels == {"region": "us-east"}
    assert not routed(eu_only(), listed)
    # a forged stamp value the API never writes counts as no stamp
    assert not routed(eu_only(), ep("https://x.example/v1", EU, {WRITTEN_BY_ANNOTATION: "admin"}))


def _replica(template_labels: dict[str, str]) -> ModelReplica:
    return ModelReplica.model_validate({
        "metadata": {"name": "chat-0", "namespace": "ml", "uid": "u-1", "labels": template_labels},
        "spec": {"clusterName": "cloud-use1", "engines": [{"name": "main", "members": [
            {"nodeSelector": {"devices": [{"name": "cpu", "selectors": [{"cel": "true"}]}]},
             "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/sim"}]}}}]}]},
    })


def test_a_template_labelled_eu_on_a_us_cluster_stays_outside_an_eu_boundary() -> None:
    observation = ReplicaObservation(ready=True, reason="Ready", addresses=(ServingAddress("main", 0, "http://127.0.0.1:9", True),))
    # the cluster sets the jurisdiction: its word wins over the team's template
    [on_us] = desired_endpoints(_replica({"app": "m", **EU}), {JURISDICTION: "us"}, observation)
    assert on_us.metadata.labels[JURISDICTION] == "us" and on_us.metadata.labels["app"] == "m"
    assert not routed(eu_only(), on_us)
    # the cluster sets none: the template's claim is kept as a label but is not evidence
    [unlabelled] = desired_endpoints(_replica({"app": "m", **EU}), {"laneway.dev/cloud": "aws"}, observation)
    assert unlabelled.metadata.labels[JURISDICTION] == "eu"
    assert boundary_evidence(unlabelled).labels == {"laneway.dev/cloud": "aws", CLUSTER_LABEL: "cloud-use1"}
    assert not routed(eu_only(), unlabelled)
    # a cluster the platform labels eu is inside
    [on_eu] = desired_endpoints(_replica({"app": "m"}), EU, observation)
    assert routed(eu_only(), on_eu)


# --- the upgrade path: endpoints written before the stamp ------------------------------------

def test_an_endpoint_written_before_the_stamp_is_excluded_saying_so_and_how_to_fix_it() -> None:
    old = ep("https://api.together.xyz/v1", EU)
    evidence = boundary_evidence(old)
    assert evidence.labels is None and not evidence.stamped
    reason = boundary_refusal(old, eu_only().spec.data_boundary)
    assert reason is not None
    assert "no laneway.dev/written-by: written before laneway recorded who writes an endpoint" in reason
    assert "the platform vouches for api.together.xyz:443 by listing its provider" in reason
    assert "spec.tickets.providers" in reason and "applied again with a platform token" in reason
    # vouched for afterwards: judged on the provider's labels, routed inside an EU boundary
    assert routed(eu_only(), old, (EU_PROVIDER.model_copy(update={"url": "https://api.together.xyz/v1"}),))


def _service(name: str, selector: dict[str, str], boundary: dict[str, Any] | None) -> ModelService:
    spec: dict[str, Any] = {"endpoints": [{"tier": "Overflow", "selector": {"matchLabels": selector}}]}
    if boundary is not None:
        spec["dataBoundary"] = boundary
    return ModelService.model_validate({"metadata": {"name": name, "namespace": "ml"}, "spec": spec})


def _named(name: str, url: str, labels: dict[str, str], annotations: dict[str, str] | None = None, namespace: str = "ml") -> ModelEndpoint:
    e = ep(url, labels, annotations)
    return e.model_copy(update={"metadata": e.metadata.model_copy(update={"name": name, "namespace": namespace})})


def test_unvouched_endpoints_lists_those_a_bounded_service_now_excludes_with_the_fix() -> None:
    endpoints = [
        _named("old", "https://api.together.xyz/v1", EU),                                       # no stamp: listed
        _named("team", "https://api.together.xyz/v1", EU, {WRITTEN_BY_ANNOTATION: "team"}),     # team's: listed
        _named("vouched", "https://api.mistral.ai/v1", EU),                                     # at a vouched host
        _named("platform", "https://api.together.xyz/v1", EU, {WRITTEN_BY_ANNOTATION: "platform"}),
        _named("elsewhere", "https://api.together.xyz/v1", EU, namespace="other"),              # no bounded service there
        _named("unselected", "https://api.together.xyz/v1", {"app": "other"}),                   # no service selects it
    ]
    services = [
        _service("bounded", {"app": "m"}, {"matchLabels": EU}),
        _service("also-bounded", {"app": "m"}, {"matchExpressions": [{"key": JURISDICTION, "operator": "Exists"}]}),
        _service("open", {"app": "other"}, None),
    ]
    found = unvouched_endpoints(services, endpoints, (EU_PROVIDER,))
    assert [(f.name, f.written_by, f.services) for f in found] == [
        ("old", "<none>", ("also-bounded", "bounded")),
        ("team", "team", ("also-bounded", "bounded")),
    ]
    old, team = found
    assert "written before laneway recorded who writes an endpoint" in old.problem
    assert "api.together.xyz:443" in old.fix and "apply it again with a platform token" in old.fix
    assert "written by the team lane" in team.problem and "platform token" not in team.fix
    # the platform vouches for the host: nothing is left to report
    assert unvouched_endpoints(services, endpoints, (EU_PROVIDER, US_PROVIDER)) == []
