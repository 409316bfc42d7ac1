"""Parsing and checking `laneway wait --for=...`."""

from __future__ import annotations

import pytest
from cli_objects import deployment

from laneway.cli.wait_for import BadWaitFor, WaitFor, is_met, parse_wait_for, progress

READY = [{"type": "Ready", "status": "True", "reason": "Placed"}]
NOT_READY = [{"type": "Ready", "status": "False", "reason": "Unschedulable", "message": "no cluster fits"}]


def test_parse_forms() -> None:
    assert parse_wait_for("condition=Ready") == WaitFor("condition", "Ready", "True")
    assert parse_wait_for("condition=Ready=false") == WaitFor("condition", "Ready", "False")
    assert parse_wait_for("delete") == WaitFor("delete")


@pytest.mark.parametrize("text", ["ready", "condition=", "condition=Ready=maybe", "deleted"])
def test_parse_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(BadWaitFor) as e:
        parse_wait_for(text)
    assert "--for" in str(e.value)


def test_condition_met_only_with_the_wanted_status() -> None:
    want = parse_wait_for("condition=Ready")
    assert is_met(want, deployment(**{"status.conditions": READY}))
    assert not is_met(want, deployment(**{"status.conditions": NOT_READY}))
    assert not is_met(want, deployment())
    assert not is_met(want, None)


def test_delete_met_when_gone() -> None:
    want = parse_wait_for("delete")
    assert is_met(want, None)
    assert not is_met(want, deployment())


def test_progress_explains_where_the_object_stands() -> None:
    want = parse_wait_for("condition=Ready")
    assert "Unschedulable" in progress(want, deployment(**{"status.conditions": NOT_READY}))
    assert "no Ready condition" in progress(want, deployment())
    assert "does not exist" in progress(want, None)


def test_progress_on_timeout_prints_the_schedulers_reasons() -> None:
    want = parse_wait_for("condition=ReplicasReady")
    conditions = [
        {"type": "ReplicasReady", "status": "False", "reason": "NoReplicas", "message": "0 of 1 ready"},
        {"type": "ReplicasScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0 of 1 placed: cluster local: needs 8 cpu, has 2"},
        {"type": "Available", "status": "True", "reason": "Fine"},
    ]
    text = progress(want, deployment(**{"status.conditions": conditions}))
    assert "ReplicasReady is False (NoReplicas: 0 of 1 ready)" in text
    assert "\n  ReplicasScheduled is False (Unschedulable: 0 of 1 placed: cluster local: needs 8 cpu, has 2)" in text
    assert "Available" not in text
