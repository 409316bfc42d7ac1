"""`get tk` STATUS shows what matters: an approved, healthy ticket is `Serving`, not `NoCanary`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from laneway.api.kinds.ticket import InferenceTicket
from laneway.cli.columns import ticket_status

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tickets" / "pr-review.yaml"


def _ticket(*conditions: tuple[str, str, str]) -> InferenceTicket:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["status"] = {"conditions": [
        {"type": t, "status": s, "reason": r, "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"} for t, s, r in conditions
    ]}
    return InferenceTicket.model_validate(doc)


def test_an_approved_composed_ticket_is_serving() -> None:
    tk = _ticket(("ModelRow", "True", "Passes"), ("Approved", "True", "Approved"), ("Composed", "True", "Composed"),
                 ("CanaryRolledBack", "False", "NoCanary"), ("Ready", "True", "Ready"))
    assert ticket_status(tk) == "Serving"


def test_troubles_come_first() -> None:
    rolled = _ticket(("Approved", "True", "Approved"), ("CanaryRolledBack", "True", "BudgetBreached"), ("Ready", "True", "Ready"))
    assert ticket_status(rolled) == "BudgetBreached"
    pending = _ticket(("ModelRow", "True", "Passes"), ("Approved", "False", "AwaitingApproval"),
                      ("CanaryRolledBack", "False", "NoCanary"), ("Ready", "False", "NotReady"))
    assert ticket_status(pending) == "AwaitingApproval"
