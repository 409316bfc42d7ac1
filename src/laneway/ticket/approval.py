"""Whether a ticket may compose: approved by the platform lane for what it says now, or its
namespace auto-approves.

An approval is bound to content. `laneway ticket approve NAME` (platform or admin token) asks
the API server to approve; the server stamps who approved (token id and role), the ticket's
generation, and the rows that matter with their hash (`material_rows`, `content_hash`). A later
edit to any of those rows (hardware, boundary, sovereignty, overflow, the replica maxima, the
cache source, the retirement date, a declared canary) no longer matches the hash: the ticket is pending again, and
the controller composes nothing new until the new content is approved; what runs keeps running
as it was approved. Approving a ticket whose rows fail needs a recorded override reason, and
covers only the rows failing at that moment.

A platform team that trusts a namespace lists it in the `laneway.dev/auto-approve-tickets`
annotation of an InferenceGateway (comma-separated namespaces, or `*`): the gateway is the
platform's own cluster-scoped object, so a team cannot grant itself the exemption.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from laneway.api.kinds import InferenceGateway, InferenceTicket
from laneway.api.kinds.ticket import InferenceTicketSpec
from laneway.api.labels import AUTO_APPROVE_ANNOTATION

MATERIAL_ROWS: dict[str, tuple[str, ...] | None] = {
    "hardware": None,
    "fleetBoundary": None,
    "sovereignty": None,
    "overflow": None,
    "scaling": ("replicas", "maxReplicas"),
    "cache": None,
    "lifecycle": ("retireAfter", "canary"),
}
"""The rows an approval binds, each whole (None) or by the fields named: what decides where a
model runs, where its data goes, how much it may take and when it goes away."""


def material_rows(spec: InferenceTicketSpec) -> dict[str, Any]:
    """The rows that matter, as wire documents (a missing row is None) (pure)."""
    rows: dict[str, Any] = {}
    for key, fields in MATERIAL_ROWS.items():
        row = spec.row(key)
        if row is None:
            rows[key] = None
            continue
        doc = row.model_dump(by_alias=True, exclude_none=True, mode="json")
        doc = {k: v for k, v in doc.items() if v not in ([], {})}
        if fields is not None and "none" not in doc:
            doc = {k: v for k, v in doc.items() if k in fields}
        rows[key] = doc
    return rows


def content_hash(rows: dict[str, Any]) -> str:
    """`sha256:<hex>` of the material rows in a canonical JSON form (pure)."""
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def changed_rows(approved: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """The material rows that differ from the approved ones, in row order (all when none was)."""
    before = approved or {}
    return [key for key in MATERIAL_ROWS if before.get(key) != current.get(key)]


def _flat(doc: Any, prefix: str) -> dict[str, str]:
    if isinstance(doc, dict) and doc:
        out: dict[str, str] = {}
        for k, v in doc.items():
            out.update(_flat(v, f"{prefix}.{k}"))
        return out
    return {prefix: json.dumps(doc, sort_keys=True)}


def diff_lines(approved: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """`- path: old` / `+ path: new` lines between the last approved rows and these (pure)."""
    lines: list[str] = []
    for key in changed_rows(approved, current):
        old = _flat((approved or {}).get(key), key)
        new = _flat(current.get(key), key)
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            if path in old:
                lines.append(f"- {path}: {old[path]}")
            if path in new:
                lines.append(f"+ {path}: {new[path]}")
    return lines


def approval_record(
    ticket: InferenceTicket, *, by: str, role: str, at: str, override: str | None = None, failing: Sequence[str] = ()
) -> dict[str, Any]:
    """The status fields that record approving `ticket` as it stands (pure; the API server
    writes them from the approving token, never from the request)."""
    rows = material_rows(ticket.spec)
    return {
        "approved": True,
        "approved_by": by,
        "approved_role": role,
        "approved_at": at,
        "approved_generation": ticket.metadata.generation,
        "approved_hash": content_hash(rows),
        "approved_rows": rows,
        "approval_override": override or None,
        "overridden_rows": list(failing) or None,
    }


def auto_approved_namespaces(gateways: Sequence[InferenceGateway]) -> frozenset[str]:
    names: set[str] = set()
    for g in gateways:
        text = g.metadata.annotations.get(AUTO_APPROVE_ANNOTATION, "")
        names.update(part.strip() for part in text.split(",") if part.strip())
    return frozenset(names)


@dataclass(frozen=True)
class Approval:
    """The ticket's Approved condition, and the failing rows its approval overrides."""

    approved: bool
    reason: str
    message: str
    overridden: frozenset[str] = frozenset()


def _approver(ticket: InferenceTicket) -> str:
    s = ticket.status
    who = f"{s.approved_by or 'unknown'} (role {s.approved_role or 'unknown'})"
    return f"{who} at generation {s.approved_generation}"


def approval(ticket: InferenceTicket, gateways: Sequence[InferenceGateway]) -> Approval:
    """Whether the ticket as it stands now is approved, and why (pure)."""
    s = ticket.status
    if s.approved:
        current = material_rows(ticket.spec)
        if s.approved_hash and s.approved_hash == content_hash(current):
            override = ""
            if s.overridden_rows:
                override = f"; failing row(s) {', '.join(s.overridden_rows)} overridden: {s.approval_override}"
            return Approval(True, "Approved", f"approved by {_approver(ticket)}{override}", frozenset(s.overridden_rows or ()))
        if s.approved_hash:
            changed = ", ".join(changed_rows(s.approved_rows, current)) or "rows"
            return Approval(
                False, "ChangedSinceApproval",
                f"{changed} changed since the approval by {_approver(ticket)}; what runs stays as approved until "
                f"laneway ticket approve {ticket.name} -n {ticket.namespace}",
            )
    allowed = auto_approved_namespaces(gateways)
    if "*" in allowed or ticket.namespace in allowed:
        return Approval(True, "AutoApproved", f"namespace {ticket.namespace!r} is auto-approved by the platform ({AUTO_APPROVE_ANNOTATION})")
    return Approval(False, "AwaitingApproval", f"waiting for the platform team: laneway ticket approve {ticket.name} -n {ticket.namespace}")
