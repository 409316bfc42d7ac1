"""Every row's check, passing and failing, against the example fleet."""

from __future__ import annotations

import pytest
from ticket_builders import NOW, fleet, ticket

from laneway.api.kinds.ticket import TICKET_ROWS
from laneway.ticket.checks import OPTIONAL_ROWS, check_ticket
from laneway.ticket.report import report_json, report_text


def verdict(t, key):  # type: ignore[no-untyped-def]
    return check_ticket(t, fleet(), now=NOW).row(key)


def test_filled_example_passes_every_row() -> None:
    report = check_ticket(ticket(), fleet(), now=NOW)
    assert report.passed, report_text(report)
    assert [r.key for r in report.rows] == list(TICKET_ROWS)


@pytest.mark.parametrize("key", TICKET_ROWS)
def test_missing_row_fails_by_its_key(key: str) -> None:
    report = check_ticket(ticket(**{key: None}), fleet(), now=NOW)
    assert key in report.failing
    assert report.row(key).reason == "Missing"


def test_placeholder_row_is_not_an_answer() -> None:
    row = verdict(ticket(cache={"none": "TODO: Where are the weights fetched from?"}), "cache")
    assert not row.passed and row.reason == "Unanswered"


@pytest.mark.parametrize("key", TICKET_ROWS)
def test_unanswered_row_suggests_none_only_where_the_row_may_be_empty(key: str) -> None:
    placeholder = verdict(ticket(**{key: {"none": "TODO: later"}}), key)
    missing = verdict(ticket(**{key: None}), key)
    for row in (placeholder, missing):
        if key in OPTIONAL_ROWS:
            assert "or write none" in row.message
        else:
            assert "none" not in row.message.replace("cannot be none", "") and "cannot be none" in row.message


@pytest.mark.parametrize("key", ["overflow", "cache", "lifecycle", "fleetBoundary", "sovereignty"])
def test_optional_rows_accept_none_with_a_reason(key: str) -> None:
    assert verdict(ticket(**{key: {"none": "deliberately empty"}}), key).passed


@pytest.mark.parametrize("key", ["model", "engine", "hardware", "scaling", "endpoint"])
def test_required_rows_refuse_none(key: str) -> None:
    row = verdict(ticket(**{key: {"none": "not needed"}}), key)
    assert not row.passed and row.reason == "NotOptional"


def test_model_needs_a_job() -> None:
    row = verdict(ticket(model={"name": "Qwen/Qwen3-8B"}), "model")
    assert not row.passed and "job" in row.message


def test_engine_needs_an_image() -> None:
    row = verdict(ticket(engine={"args": ["--x"]}), "engine")
    assert not row.passed and "image" in row.message


def test_hardware_names_matching_classes() -> None:
    row = verdict(ticket(), "hardware")
    assert row.passed and "h100-80gb" in row.message and "l4-24gb" not in row.message


def test_hardware_that_matches_no_class_explains_each_class() -> None:
    devices = [{"name": "gpu", "count": 1, "selectors": [{"cel": 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("500Gi")) >= 0'}]}]
    row = verdict(ticket(hardware={"devices": devices}), "hardware")
    assert not row.passed and row.reason == "NoMatchingClass"
    assert any(d.startswith("h100-80gb:") for d in row.details) and any(d.startswith("l4-24gb:") for d in row.details)


def test_hardware_class_name_must_be_published() -> None:
    assert verdict(ticket(hardware={"className": "l4-24gb"}), "hardware").passed
    row = verdict(ticket(hardware={"className": "b200"}), "hardware")
    assert not row.passed and "b200" in row.message and "h100-80gb" in row.message


def test_fleet_boundary_that_selects_nothing_fails() -> None:
    row = verdict(ticket(fleetBoundary={"matchLabels": {"laneway.dev/cloud": "gcp"}}), "fleetBoundary")
    assert not row.passed and row.reason == "SelectsNoCluster"


def test_sovereignty_conflicting_with_boundary_fails() -> None:
    t = ticket(fleetBoundary={"matchLabels": {"laneway.dev/jurisdiction": "us"}})
    row = verdict(t, "sovereignty")
    assert not row.passed and row.reason == "ConflictsWithFleetBoundary"


def test_scaling_runs_the_real_scheduler_and_reports_its_reasons() -> None:
    big = {"replicas": 3, "peakConcurrency": 10, "latencyBudget": {"p95": "4s"}}
    devices = [{"name": "gpu", "count": 8, "selectors": [{"cel": 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("70Gi")) >= 0'}]}]
    row = verdict(ticket(scaling=big, hardware={"devices": devices}), "scaling")
    assert not row.passed and row.reason == "DoesNotFit"
    assert "onprem-fra" in row.message or any("onprem-fra" in d for d in row.details)


def test_scaling_needs_a_latency_budget() -> None:
    row = verdict(ticket(scaling={"replicas": 1}), "scaling")
    assert not row.passed and row.reason == "NoLatencyBudget"


def test_scaling_counts_running_replicas_of_others() -> None:
    # fill onprem-fra's 16 H100s with 2 whole-node replicas of another deployment: ours no longer fits
    from laneway.api.kinds import ModelReplica
    from laneway.ticket.fleet import FleetSnapshot

    snap = fleet()
    others = []
    for i in range(2):
        others.append(ModelReplica.model_validate({
            "metadata": {"name": f"other-{i}", "namespace": "x", "labels": {"laneway.dev/deployment": "other", "laneway.dev/replica-index": str(i)}},
            "spec": {"clusterName": "onprem-fra", "engines": [{"name": "main", "members": [{
                "nodePoolName": "h100", "nodeSelector": {"devices": [{"name": "gpu", "count": 8}]},
                "deviceRequests": [{"name": "gpu", "deviceClassName": "gpu.nvidia.com", "count": 8}],
                "template": {"spec": {"containers": [{"name": "engine", "image": "x"}]}}}]}]},
        }))
    busy = FleetSnapshot(snap.clusters, snap.classes, tuple(others), snap.gateways)
    row = check_ticket(ticket(), busy, now=NOW).row("scaling")
    assert not row.passed, row


def test_endpoint_owner_needs_a_contact() -> None:
    row = verdict(ticket(endpoint={"service": "pr-review", "owner": {"team": "tools"}}), "endpoint")
    assert not row.passed and row.reason == "NoOwnerContact"


def test_overflow_outside_sovereignty_fails() -> None:
    row = verdict(ticket(overflow={"tier": "Overflow", "provider": "openai-us", "model": "gpt-4.1"}), "overflow")
    assert not row.passed and row.reason == "OutsideSovereignty"
    assert "the platform labels it laneway.dev/cloud=aws, laneway.dev/jurisdiction=us" in row.message


def test_cache_source_needs_its_block() -> None:
    row = verdict(ticket(cache={"source": "S3"}), "cache")
    assert not row.passed and "s3" in row.message


def test_retirement_date_must_be_in_the_future() -> None:
    row = verdict(ticket(lifecycle={"retireAfter": "2020-01-01"}), "lifecycle")
    assert not row.passed and row.reason == "RetirementPast"


def test_automatic_rollback_needs_a_budget() -> None:
    t = ticket(scaling={"replicas": 1, "latencyBudget": {"p95": "4s"}}, lifecycle={"rollback": {"onBudgetBreach": True}})
    assert verdict(t, "lifecycle").passed


def test_failing_example_fails_exactly_three_rows() -> None:
    from ticket_builders import EXAMPLES

    from laneway.api.manifest import load_paths

    bad = load_paths([str(EXAMPLES / "pr-review-failing.yaml")])[0]
    report = check_ticket(bad, fleet(), now=NOW)  # type: ignore[arg-type]
    assert report.failing == ["scaling", "endpoint", "overflow"]
    doc = report_json(report)
    assert doc["passed"] is False and doc["failing"] == ["scaling", "endpoint", "overflow"]
    assert "3 of 10 rows fail: scaling, endpoint, overflow" in report_text(report)


def test_scaling_row_prices_the_placed_replicas_against_the_overflow_provider() -> None:
    row = verdict(ticket(), "scaling")
    assert row.verdict == "Pass"
    # Two replicas of one H100 each on a Device-accounted pool at 3.5 USD a device-hour, 730 h.
    note = next(d for d in row.details if "a month" in d)
    assert "2 replica(s) cost about 5,110.00 USD a month" in note
    assert "mistral-eu's 0.9 per million tokens" in note and f"{5110 / 0.9:,.1f} million tokens a month" in note
