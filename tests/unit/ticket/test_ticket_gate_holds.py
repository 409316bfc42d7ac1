"""The six findings of issue #21, reproduced against the ticket controller: approval is bound
to what was approved, retirement sticks, and a canary the ticket does not declare takes no
traffic where the platform's switch is on."""

from __future__ import annotations

from typing import Any

import pytest
from test_ticket_controller_edges import (
    KEY,
    RETIRE,
    T_RETIRE,
    approve,
    cond,
    edit_ticket,
    get,
    run,
    setup,
)

from laneway.api.kinds import InferenceGateway, ModelDeployment, ModelService
from laneway.api.meta import ObjectKey
from laneway.store.memory import MemoryStore
from laneway.ticket.labels import CANARY_LABEL, RETIRED_ANNOTATION
from laneway.ticket.retirement import DAY


def _children(store: MemoryStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("ModelDeployment", "ModelService", "ModelEndpoint", "ModelCache"):
        for o in store.list(kind, namespace=KEY.namespace).items:
            out[f"{kind}/{o.name}"] = {"spec": o.wire()["spec"], "annotations": o.metadata.annotations}
    return out


EDITS: dict[str, dict[str, Any]] = {
    "hardware": {"hardware": {"className": "h100-80gb"}},
    "fleetBoundary": {"fleetBoundary": {"none": "any cluster the sovereignty rule allows"}},
    "overflow": {"overflow": {"none": "callers wait rather than leave the EU"}},
    "lifecycle": {"lifecycle": {"revisionHistoryLimit": 5, "retireAfter": "2032-01-01"}},
    "scaling": {"scaling": {"replicas": 3, "peakConcurrency": 40, "latencyBudget": {"p95": "4s"}}},
}


@pytest.mark.parametrize("row", sorted(EDITS))
def test_an_approved_ticket_edited_on_a_material_row_is_pending_and_composes_nothing_new(row: str) -> None:
    store, _, tc, _ = setup()
    run(tc)
    before = _children(store)
    assert cond(get(store, "InferenceTicket"), "Composed").status == "True"
    edit_ticket(store, **EDITS[row])
    run(tc)
    t = get(store, "InferenceTicket")
    approved = cond(t, "Approved")
    assert approved.status == "False" and approved.reason == "ChangedSinceApproval"
    assert row in approved.message and "0123abcd (role platform)" in approved.message
    assert cond(t, "Composed").reason == "ChangedSinceApproval"
    assert _children(store) == before  # what runs keeps running as approved
    approve(store)
    run(tc)
    assert cond(get(store, "InferenceTicket"), "Approved").status == "True"
    assert _children(store) != before  # the new version composes once approved


def test_an_edit_outside_the_material_rows_needs_no_new_approval() -> None:
    store, _, tc, _ = setup()
    run(tc)
    edit_ticket(store, model={"name": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "job": "review pull requests for two teams"})
    run(tc)
    assert cond(get(store, "InferenceTicket"), "Approved").status == "True"


def test_an_extended_retirement_needs_approval_and_the_retired_service_stays_gone() -> None:
    store, clock, tc, _ = setup()
    run(tc)
    clock.now = T_RETIRE + 60
    run(tc)
    assert get(store, "ModelDeployment").spec.replicas == 0
    edit_ticket(store, lifecycle={"revisionHistoryLimit": 5, "retireAfter": "2099-01-01"})
    run(tc)
    t = get(store, "InferenceTicket")
    assert cond(t, "Approved").reason == "ChangedSinceApproval" and "lifecycle" in cond(t, "Approved").message
    assert cond(t, "Retired").status == "True" and RETIRE in cond(t, "Retired").message
    assert get(store, "ModelDeployment").spec.replicas == 0
    assert RETIRE in get(store, "ModelService").metadata.annotations[RETIRED_ANNOTATION]
    approve(store)  # the platform agrees to the extension: the service comes back
    run(tc)
    assert get(store, "ModelDeployment").spec.replicas == 2
    assert RETIRED_ANNOTATION not in get(store, "ModelService").metadata.annotations


def _switch_on(store: MemoryStore) -> None:
    store.create(InferenceGateway.model_validate({"metadata": {"name": "switch"}, "spec": {"tickets": {"requireTicket": [KEY.namespace]}}}))


def _label_only_canary(store: MemoryStore) -> None:
    md = get(store, "ModelDeployment")
    assert isinstance(md, ModelDeployment)
    doc = md.wire()
    doc["metadata"] = {"name": "sneaky", "namespace": KEY.namespace,
                       "labels": {CANARY_LABEL: KEY.name}, "annotations": {"laneway.dev/canary-weight": "50"}}
    doc.pop("status", None)
    store.create(ModelDeployment.model_validate(doc))


def _weights(store: MemoryStore) -> dict[str, int]:
    svc = get(store, "ModelService")
    assert isinstance(svc, ModelService)
    return {e.name: e.weight for e in svc.spec.endpoints if e.tier == "Primary"}


def test_a_label_only_canary_takes_no_traffic_under_the_platform_switch() -> None:
    store, _, tc, _ = setup()
    _switch_on(store)
    run(tc)
    _label_only_canary(store)
    run(tc)
    assert "canary" not in _weights(store)
    c = cond(get(store, "InferenceTicket"), "CanaryRolledBack")
    assert c.reason == "UndeclaredCanary" and "sneaky" in c.message


def test_a_label_only_canary_still_counts_where_the_switch_is_off() -> None:
    store, _, tc, _ = setup()
    run(tc)
    _label_only_canary(store)
    run(tc)
    assert _weights(store) == {"primary": 50, "canary": 50}


def test_a_declared_canary_is_composed_and_needs_approval() -> None:
    store, _, tc, _ = setup()
    _switch_on(store)
    run(tc)
    edit_ticket(store, lifecycle={"revisionHistoryLimit": 5, "retireAfter": RETIRE,
                                  "canary": {"image": "vllm/vllm-openai:v0.24.0", "weight": 20}})
    run(tc)
    assert store.find(ModelDeployment, ObjectKey(KEY.namespace, "pr-review-canary")) is None  # not approved yet
    approve(store)
    run(tc)
    canary = store.get(ModelDeployment, ObjectKey(KEY.namespace, "pr-review-canary"))
    container = canary.spec.template.spec.engines[0].members[0].container
    assert container.image == "vllm/vllm-openai:v0.24.0" and canary.spec.replicas == 1
    assert canary.metadata.owner_references[0].uid == get(store, "InferenceTicket").metadata.uid
    assert _weights(store) == {"primary": 80, "canary": 20}


def test_the_tickets_warning_period_reaches_the_deployment_and_service() -> None:
    store, clock, tc, rc = setup(lifecycle={"retireAfter": RETIRE, "warnBefore": "30d", "gracePeriod": "2d"})
    run(tc)
    clock.now = T_RETIRE - 20 * DAY  # inside the ticket's 30 days, outside the 14-day default
    run(tc)
    run(rc)
    run(rc)
    assert cond(get(store, "InferenceTicket"), "RetirementWarning").status == "True"
    assert cond(get(store, "ModelDeployment"), "RetirementWarning").status == "True"
    service_warning = cond(get(store, "ModelService"), "RetirementWarning")
    assert service_warning.status == "True" and "#tools-oncall" in service_warning.message
