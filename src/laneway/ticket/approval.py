"""Whether a ticket may compose: approved by the platform lane, or its namespace auto-approves.

`laneway ticket approve NAME` (platform or admin token) sets `status.approved`. A platform team
that trusts a namespace lists it in the `laneway.dev/auto-approve-tickets` annotation of an
InferenceGateway (comma-separated namespaces, or `*`): the gateway is the platform's own
cluster-scoped object, so a team cannot grant itself the exemption.
"""

from __future__ import annotations

from typing import Sequence

from laneway.api.kinds import InferenceGateway, InferenceTicket
from laneway.api.labels import AUTO_APPROVE_ANNOTATION


def auto_approved_namespaces(gateways: Sequence[InferenceGateway]) -> frozenset[str]:
    names: set[str] = set()
    for g in gateways:
        text = g.metadata.annotations.get(AUTO_APPROVE_ANNOTATION, "")
        names.update(part.strip() for part in text.split(",") if part.strip())
    return frozenset(names)


def approval(ticket: InferenceTicket, gateways: Sequence[InferenceGateway]) -> tuple[bool, str, str]:
    """(approved, reason, message) for the ticket's Approved condition (pure)."""
    if ticket.status.approved:
        by = ticket.status.approved_by
        return True, "Approved", f"approved by {by}" if by else "approved with laneway ticket approve"
    allowed = auto_approved_namespaces(gateways)
    if "*" in allowed or ticket.namespace in allowed:
        return True, "AutoApproved", f"namespace {ticket.namespace!r} is auto-approved by the platform ({AUTO_APPROVE_ANNOTATION})"
    return False, "AwaitingApproval", f"waiting for the platform team: laneway ticket approve {ticket.name} -n {ticket.namespace}"
