"""InferenceTicket rows: typed shapes, `none: <why>`, key order, completeness left to the checker."""

from __future__ import annotations

import textwrap

import pytest
from api_builders import only_problem

from laneway.api.kinds.ticket import TICKET_ROWS, InferenceTicket
from laneway.api.manifest import load_text

FILLED = textwrap.dedent(
    """
    apiVersion: laneway.dev/v1alpha1
    kind: InferenceTicket
    metadata: {name: pr-review, namespace: ml-team}
    spec:
      lifecycle: {revisionHistoryLimit: 5, rollback: {onBudgetBreach: true}, retireAfter: 2027-06-30}
      model: {name: Qwen/Qwen3-Coder-30B-A3B-Instruct, job: "review pull requests for the internal tools team"}
      engine: {image: vllm/vllm-openai:v0.23.0, command: [vllm, serve], args: [--max-model-len=8192]}
      hardware: {devices: [{name: gpu, count: 1, selectors: [{cel: 'device.driver == "gpu.nvidia.com"'}]}]}
      fleetBoundary: {matchLabels: {laneway.dev/cloud: on-prem}, matchExpressions: [{key: laneway.dev/region, operator: In, values: [eu-west]}]}
      sovereignty: {matchLabels: {laneway.dev/jurisdiction: eu}}
      scaling: {replicas: 2, peakConcurrency: 40, latencyBudget: {p95: 4s, p95TimeToFirstToken: 800ms}}
      endpoint: {service: pr-review, modelNames: [coder], owner: {team: internal-tools, contact: "#tools-oncall"}}
      overflow: {tier: Overflow, url: "https://api.example.eu/v1", model: coder, auth: {secretRef: {name: k, key: apiKey}}, labels: {laneway.dev/jurisdiction: eu}}
      cache: {source: HuggingFace, huggingFace: {repo: Qwen/Qwen3-Coder-30B-A3B-Instruct, revision: main}}
    """
)


def _ticket(text: str = FILLED) -> InferenceTicket:
    (t,) = load_text(text)
    assert isinstance(t, InferenceTicket)
    return t


def _doc(**spec: object) -> dict:
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceTicket", "metadata": {"name": "t", "namespace": "n"}, "spec": spec}


def test_filled_ticket_is_typed() -> None:
    t = _ticket()
    assert t.spec.missing_rows() == []
    assert t.spec.hardware is not None and t.spec.hardware.devices[0].count == 1
    assert t.spec.scaling is not None and t.spec.scaling.latency_budget is not None
    assert t.spec.scaling.latency_budget.p95_time_to_first_token == "800ms"
    assert t.spec.endpoint is not None and t.spec.endpoint.owner is not None and t.spec.endpoint.owner.contact == "#tools-oncall"
    assert t.spec.lifecycle is not None and t.spec.lifecycle.retire_after == "2027-06-30"
    assert t.spec.cache is not None and t.spec.cache.hugging_face is not None


def test_spec_keys_keep_the_ticket_order() -> None:
    assert tuple(_ticket().wire()["spec"]) == TICKET_ROWS


def test_none_row_counts_as_answered() -> None:
    t = _ticket(FILLED.replace(FILLED.split("overflow: ")[1].split("\n")[0], '{none: "data may not leave the rack"}'))
    assert t.spec.overflow is not None and t.spec.overflow.is_none()
    assert t.spec.missing_rows() == []
    assert t.spec.row("overflow") is t.spec.overflow


def test_missing_rows_listed_not_refused() -> None:
    t = InferenceTicket.model_validate(_doc(model={"name": "m"}))
    assert t.spec.missing_rows() == list(TICKET_ROWS[1:])


def test_none_takes_no_other_fields() -> None:
    path, msg = only_problem(_doc(overflow={"none": "no", "tier": "Overflow"}))
    assert path == "spec.overflow.none" and "tier" in msg


def test_none_needs_a_reason() -> None:
    assert "reason" in only_problem(_doc(cache={"none": " "}))[1]


def test_rows_reject_unknown_fields_and_bad_shapes() -> None:
    path, msg = only_problem(_doc(scaling={"replica": 2}))
    assert path == "spec.scaling.replica" and "replicas" in msg
    assert only_problem(_doc(hardware={"className": "h100", "devices": [{"name": "gpu"}]}))[0] == "spec.hardware.className"
    assert only_problem(_doc(scaling={"replicas": 2, "maxReplicas": 4}))[0] == "spec.scaling.replicas"
    assert "duration" in only_problem(_doc(scaling={"latencyBudget": {"p95": "fast"}}))[1]
    assert "must be one of 'Overflow', 'BreakGlass'" in only_problem(_doc(overflow={"tier": "Primary"}))[1]
    assert "YYYY-MM-DD" in only_problem(_doc(lifecycle={"retireAfter": "someday"}))[1]


def test_unknown_row_lists_the_rows() -> None:
    path, msg = only_problem(_doc(budget={"x": 1}))
    assert path == "spec.budget"
    for row in TICKET_ROWS:
        assert row in msg


def test_row_lookup_rejects_unknown_keys() -> None:
    with pytest.raises(KeyError):
        _ticket().spec.row("budget")
