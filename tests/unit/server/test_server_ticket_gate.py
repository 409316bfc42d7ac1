"""The API server's side of tickets: the approval record it stamps (who, which generation,
which rows; an override for failing rows) and the platform switch that refuses side doors."""

from __future__ import annotations

from pathlib import Path

import pytest

from laneway.api.conditions import Condition
from laneway.api.kinds import InferenceGateway, InferenceTicket, ModelDeployment
from laneway.api.manifest import load_paths
from laneway.server.errors import ApiError
from laneway.server.ticket_approval import stamp_approval
from laneway.server.ticket_gate import refuse_unticketed
from laneway.server.token_admin import token_id
from laneway.store.base import TokenRecord
from laneway.store.memory import MemoryStore
from laneway.ticket.approval import content_hash, material_rows

PLATFORM = TokenRecord(token_sha256="ab" * 32, role="platform")
TEAM = TokenRecord(token_sha256="cd" * 32, role="team", namespaces=("tools",))
ADMIN = TokenRecord(token_sha256="ef" * 32, role="admin")
NOW = "2030-01-01T00:00:00Z"
MANIFEST = Path(__file__).resolve().parents[2] / "integration" / "cli" / "manifests" / "team" / "deployment.yaml"


def _ticket(*, failing: bool = False) -> InferenceTicket:
    t = InferenceTicket.model_validate({
        "metadata": {"name": "pr-review", "namespace": "tools", "generation": 4},
        "spec": {"hardware": {"className": "h100-80gb"}, "scaling": {"replicas": 2, "peakConcurrency": 10}},
    })
    conditions = [Condition(type="HardwareRow", status="True"), Condition(type="ScalingRow", status="False" if failing else "True")]
    return t.model_copy(update={"status": t.status.model_copy(update={"conditions": conditions})})


def _asking(existing: InferenceTicket, **fields: object) -> InferenceTicket:
    return existing.model_copy(update={"status": existing.status.model_copy(update={"approved": True, "approved_at": "x", **fields})})


def test_the_server_records_who_approved_which_generation_and_rows() -> None:
    existing = _ticket()
    stamped = stamp_approval(PLATFORM, _asking(existing, approved_by="someone-else", approved_hash="sha256:forged"), existing, now=NOW)
    assert isinstance(stamped, InferenceTicket)
    s = stamped.status
    assert s.approved_by == token_id(PLATFORM) and s.approved_role == "platform" and s.approved_generation == 4
    assert s.approved_hash == content_hash(material_rows(existing.spec)) and s.approved_at == NOW
    assert s.approved_rows is not None and s.approved_rows["hardware"] == {"className": "h100-80gb"}


def test_approving_failing_rows_needs_a_recorded_override() -> None:
    existing = _ticket(failing=True)
    with pytest.raises(ApiError) as refused:
        stamp_approval(PLATFORM, _asking(existing), existing, now=NOW)
    assert refused.value.code == 422 and "scaling" in refused.value.message and "--override" in refused.value.message
    stamped = stamp_approval(PLATFORM, _asking(existing, approval_override="the second cluster joins on Monday"), existing, now=NOW)
    assert isinstance(stamped, InferenceTicket)
    assert stamped.status.overridden_rows == ["scaling"]
    assert stamped.status.approval_override == "the second cluster joins on Monday"


def test_a_status_write_that_does_not_approve_cannot_move_the_record() -> None:
    existing = _ticket()
    approved = stamp_approval(PLATFORM, _asking(existing), existing, now=NOW)
    assert isinstance(approved, InferenceTicket)
    forged = approved.model_copy(update={"status": approved.status.model_copy(update={
        "approved_hash": "sha256:other", "approved_by": "me", "overridden_rows": ["hardware"]})})
    kept = stamp_approval(ADMIN, forged, approved, now=NOW)
    assert isinstance(kept, InferenceTicket)
    assert kept.status.approved_hash == approved.status.approved_hash and kept.status.approved_by == token_id(PLATFORM)
    assert kept.status.overridden_rows is None


def _deployment(namespace: str) -> ModelDeployment:
    (md,) = [r for r in load_paths([str(MANIFEST)]) if isinstance(r, ModelDeployment)]
    return md.model_copy(update={"metadata": md.metadata.model_copy(update={"name": "sneaky", "namespace": namespace})})


def test_the_switch_refuses_team_deployments_only_where_the_platform_turned_it_on() -> None:
    store = MemoryStore()
    store.create(InferenceGateway.model_validate({"metadata": {"name": "g"}, "spec": {"tickets": {"requireTicket": ["tools"]}}}))
    with pytest.raises(ApiError) as refused:
        refuse_unticketed(store, TEAM, _deployment("tools"))
    assert refused.value.code == 403 and "requireTicket" in refused.value.message and "lifecycle.canary" in refused.value.message
    refuse_unticketed(store, TEAM, _deployment("elsewhere"))
    refuse_unticketed(store, ADMIN, _deployment("tools"))
