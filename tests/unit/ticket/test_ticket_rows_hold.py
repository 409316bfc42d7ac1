"""The rows of issue #21's findings, checked as pure functions: vouched providers, load against
capacity, placeholders in any spelling, the platform's retirement horizon and pager shape."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ticket_builders import NOW, fleet, provider_keys, providers, ticket

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.api.manifest import load_text
from laneway.egress.destinations import DESTINATIONS_ANNOTATION, TEAM_LANE
from laneway.ticket.checks import RowCheck, check_ticket
from laneway.ticket.compose import compose
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.placeholders import is_placeholder
from laneway.ticket.policy import TicketPolicy

NO_RULE = {"none": "public code, no personal data"}


def verdict(t: Any, key: str, snap: FleetSnapshot | None = None) -> RowCheck:
    return check_ticket(t, snap or fleet(), now=NOW).row(key)


def with_gateway(spec: dict[str, Any], *, status: dict[str, Any] | None = None) -> FleetSnapshot:
    snap = fleet()
    gw = InferenceGateway.model_validate({"metadata": {"name": "a-rules"}, "spec": spec, "status": status or {}})
    return replace(snap, gateways=(*snap.gateways, gw))


# --- 2. the data boundary rests on the platform's labels ------------------------------------

def test_a_team_relabelled_provider_cannot_enter_the_boundary() -> None:
    row = verdict(ticket(overflow={"tier": "Overflow", "url": "https://api.together.xyz/v1",
                                   "labels": {"laneway.dev/jurisdiction": "eu"}}), "overflow")
    assert not row.passed and row.reason == "UnvouchedProvider"
    assert any("mistral-eu" in d for d in row.details)


def test_a_provider_row_takes_no_labels_of_its_own() -> None:
    doc = ("apiVersion: laneway.dev/v1alpha1\nkind: InferenceTicket\nmetadata: {name: t}\nspec:\n"
           "  overflow: {tier: Overflow, provider: openai-us, model: gpt-4.1, labels: {laneway.dev/jurisdiction: eu}}\n")
    with pytest.raises(InvalidManifests, match="takes its url, labels and key from the platform"):
        load_text(doc)


def test_the_provider_must_allow_the_model() -> None:
    row = verdict(ticket(overflow={"tier": "Overflow", "provider": "mistral-eu", "model": "Qwen/Qwen3-Coder-480B"}), "overflow")
    assert not row.passed and row.reason == "ModelNotAllowed" and "codestral-latest" in row.message


def test_an_unknown_provider_fails_and_lists_the_vouched_ones() -> None:
    row = verdict(ticket(overflow={"tier": "Overflow", "provider": "together-eu", "model": "x"}), "overflow")
    assert not row.passed and row.reason == "UnknownProvider" and "mistral-eu" in row.details[0]


def test_a_provider_outside_the_fleet_boundary_fails() -> None:
    t = ticket(sovereignty=NO_RULE, fleetBoundary={"matchLabels": {"laneway.dev/cloud": "on-prem"}})
    row = verdict(t, "overflow")
    assert not row.passed and row.reason == "OutsideFleetBoundary"


def _key(*, lane: str = "platform", destinations: str | None = "api.mistral.ai") -> Secret:
    (key,) = [s for s in provider_keys() if s.name == "mistral-api"]
    annotations = {**key.metadata.annotations, WRITTEN_BY_ANNOTATION: lane}
    annotations.pop(DESTINATIONS_ANNOTATION, None)
    if destinations is not None:
        annotations[DESTINATIONS_ANNOTATION] = destinations
    return key.model_copy(update={"metadata": key.metadata.model_copy(update={"annotations": annotations})})


@pytest.mark.parametrize("secrets,reason", [
    ((), "is not in namespace 'internal-tools'"),
    ((_key(lane=TEAM_LANE),), "written by the team"),
    ((_key(destinations="api.openai.com"),), "may go only to api.openai.com"),
])
def test_the_provider_key_must_exist_be_the_platforms_and_go_only_to_the_provider(secrets: tuple[Secret, ...], reason: str) -> None:
    row = verdict(ticket(), "overflow", replace(fleet(), secrets=secrets))
    assert not row.passed and row.reason == "ProviderKeyUnusable" and reason in row.message


def test_the_provider_key_the_platform_provisioned_passes() -> None:
    row = verdict(ticket(), "overflow", replace(fleet(), secrets=(_key(),)))
    assert row.passed, row.message
    assert "0.9 per million tokens" in row.message


# --- 3. load against capacity ---------------------------------------------------------------

def test_a_latency_budget_without_a_peak_fails() -> None:
    row = verdict(ticket(scaling={"replicas": 2, "latencyBudget": {"p95": "4s"}}), "scaling")
    assert not row.passed and row.reason == "NoPeakLoad"


def test_an_impossible_peak_fails_with_the_replicas_it_needs() -> None:
    row = verdict(ticket(scaling={"replicas": 1, "peakConcurrency": 5000, "latencyBudget": {"p95": "50ms"}}), "scaling")
    assert not row.passed and row.reason == "PeakExceedsCapacity"
    assert "needs 20 replica(s) at 256 per replica" in row.message and "set replicas to 20" in row.message


def test_the_engine_declared_limit_sets_the_per_replica_capacity() -> None:
    engine = {"image": "vllm/vllm-openai:v0.23.0", "args": ["--max-num-seqs=32"]}
    scaling = {"minReplicas": 1, "maxReplicas": 4, "peakConcurrency": 200, "latencyBudget": {"p95": "4s"}}
    row = verdict(ticket(engine=engine, scaling=scaling), "scaling")
    assert not row.passed and "needs 7 replica(s) at 32 per replica" in row.message and "set maxReplicas to 7" in row.message


# --- 4. owners that exist -------------------------------------------------------------------

@pytest.mark.parametrize("rows", [
    {"endpoint": {"service": "pr-review", "owner": {"team": " ", "contact": " "}}},
    {"endpoint": {"service": "pr-review", "owner": {"team": "internal-tools", "contact": "TBD"}}},
    {"endpoint": {"service": "pr-review", "owner": {"team": "n/a", "contact": "#tools-oncall"}}},
    {"overflow": {"none": "TBD"}},
    {"sovereignty": {"none": "tbd."}},
    {"cache": {"none": "n/a"}},
    {"model": {"name": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "job": "TODO: fill in"}},
])
def test_placeholders_of_any_spelling_fail(rows: dict[str, Any]) -> None:
    report = check_ticket(ticket(**rows), fleet(), now=NOW)
    (key,) = rows
    assert not report.row(key).passed, report.row(key).message


def test_a_placeholder_provider_url_fails() -> None:
    t = ticket(sovereignty=NO_RULE, overflow={"tier": "Overflow", "url": "https://tbd.example.com/v1"})
    row = verdict(t, "overflow")
    assert not row.passed and row.reason == "Placeholder"


@pytest.mark.parametrize("text", ["TBD", " ", "todo later", "N/A", "-", "?", "https://tbd.example.com", "oncall@example.org"])
def test_placeholder_spellings(text: str) -> None:
    assert is_placeholder(text)


@pytest.mark.parametrize("text", ["#tools-oncall", "public weights", "internal-tools", "https://api.mistral.ai/v1"])
def test_real_answers_are_not_placeholders(text: str) -> None:
    assert not is_placeholder(text)


def test_the_platform_sets_the_shape_of_a_pager_contact() -> None:
    row = verdict(ticket(endpoint={"service": "pr-review", "owner": {"team": "internal-tools", "contact": "bob"}}), "endpoint")
    assert not row.passed and "#[a-z0-9-]+-oncall" in row.message


def test_the_endpoint_row_prints_the_url_callers_use() -> None:
    snap = with_gateway({}, status={"address": "127.0.0.1:8080"})
    row = verdict(ticket(), "endpoint", snap)
    assert row.passed
    assert "callers use http://127.0.0.1:8080/internal-tools/pr-review/v1, or http://127.0.0.1:8080/v1 with model coder" in row.details


# --- 5. retirement that sticks --------------------------------------------------------------

HORIZON = {"tickets": {"maxRetirementHorizon": "365d"}}


@pytest.mark.parametrize("lifecycle,reason", [
    ({"none": "forever"}, "NoRetirementDate"),
    ({"revisionHistoryLimit": 3}, "NoRetirementDate"),
    ({"retireAfter": "2099-06-30"}, "BeyondHorizon"),
])
def test_the_platform_horizon_requires_a_near_retirement_date(lifecycle: dict[str, Any], reason: str) -> None:
    row = verdict(ticket(lifecycle=lifecycle), "lifecycle", with_gateway(HORIZON))
    assert not row.passed and row.reason == reason and "365d" in row.message


def test_a_date_inside_the_horizon_passes() -> None:
    row = verdict(ticket(lifecycle={"retireAfter": "2030-12-31"}), "lifecycle", with_gateway(HORIZON))
    assert row.passed, row.message


def test_the_tombstone_period_is_the_platforms_30_days_unless_set_and_the_longest_of_all_gateways() -> None:
    assert (TicketPolicy.of(fleet().gateways).tombstone, TicketPolicy.of(fleet().gateways).tombstone_text) == (30 * 86400.0, "30d")
    one = with_gateway({"tickets": {"tombstonePeriod": "7d"}})
    assert TicketPolicy.of(one.gateways).tombstone == 7 * 86400.0
    two = replace(one, gateways=(*one.gateways, InferenceGateway.model_validate(
        {"metadata": {"name": "b-rules"}, "spec": {"tickets": {"tombstonePeriod": "90d"}}})))
    policy = TicketPolicy.of(two.gateways)
    assert (policy.tombstone, policy.tombstone_text) == (90 * 86400.0, "90d")


@pytest.mark.parametrize("period,says", [("0s", "no time at all"), ("soon", "soon")])
def test_a_tombstone_period_that_is_no_duration_is_refused_saying_how_to_write_one(period: str, says: str) -> None:
    with pytest.raises(InvalidManifests) as caught:
        load_text(f"apiVersion: laneway.dev/v1alpha1\nkind: InferenceGateway\nmetadata: {{name: g}}\n"
                  f"spec: {{tickets: {{tombstonePeriod: {period}}}}}\n")
    assert "tombstonePeriod" in str(caught.value) and says in str(caught.value)


def test_a_ticket_has_no_say_in_its_tombstone_period() -> None:
    with pytest.raises(ValueError, match="tombstonePeriod"):
        ticket(lifecycle={"retireAfter": "2030-12-31", "tombstonePeriod": "1s"})


# --- the cache row asks where the weights come from -----------------------------------------

def test_weights_in_a_us_bucket_are_outside_an_eu_rule() -> None:
    row = verdict(ticket(cache={"source": "S3", "s3": {"uri": "s3://weights/qwen/", "region": "us-east-1"}}), "cache")
    assert not row.passed and row.reason == "OutsideSovereignty" and "jurisdiction us" in row.message


def test_weights_in_an_eu_bucket_pass_and_say_what_a_cold_pull_costs() -> None:
    cache = {"source": "S3", "s3": {"uri": "s3://weights/qwen/", "region": "eu-central-1", "sizeGiB": 60}, "egressPricePerGiB": 0.09}
    row = verdict(ticket(cache=cache), "cache")
    assert row.passed, row.message
    assert "a cold pull moves 60 GiB: 5.40 at 0.09 per GiB, once per cluster that pulls it" in row.details


def test_the_hub_has_no_jurisdiction_and_the_row_says_so() -> None:
    row = verdict(ticket(), "cache")
    assert row.passed and any("no jurisdiction is known" in d for d in row.details)


def test_a_cache_row_with_a_price_still_composes() -> None:
    cache = {"source": "S3", "s3": {"uri": "s3://weights/qwen/", "region": "eu-central-1"}, "egressPricePerGiB": 0.09}
    composed = compose(ticket(cache=cache), classes=(), providers=providers()).cache
    assert composed is not None and composed.spec.s3 is not None and composed.spec.s3.region == "eu-central-1"
