"""Nothing load-bearing by accident: who owns each deployment, which ticket composed it, whether
that ticket carries an approval record, and when it retires, for `laneway get md -o wide` and
`laneway audit`. Pure.

Labels are not evidence: anyone who writes a deployment writes its labels, so a deployment
labelled `laneway.dev/ticket: x` or `laneway.dev/canary-for: x` proves nothing. A deployment
belongs to a ticket when its controller ownerReference names that ticket's uid (no team token
can write one, see `laneway.server.authz`), and the ticket stands for it when it carries an
approval record (stamped by the API server) or its namespace is auto-approved. The owner is
then the ticket's endpoint row; without a ticket, the `owner` of a service routing to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from laneway.api.kinds import (
    InferenceGateway,
    InferenceTicket,
    ModelDeployment,
    ModelService,
)
from laneway.api.labels import (
    CANARY_LABEL,
    DEPLOYMENT_LABEL,
    OWNER_CONTACT_ANNOTATION,
    OWNER_TEAM_ANNOTATION,
    TICKET_LABEL,
)
from laneway.ticket.approval import auto_approved_namespaces
from laneway.ticket.retirement import (
    BadRetirementDate,
    RetirementRule,
    days_text,
    retirement_state,
)


def owner_text(deployment: ModelDeployment, services: Sequence[ModelService] = ()) -> str | None:
    """The owner `laneway get md -o wide` shows: the annotation a ticket writes, else a routing
    service's owner (a display, not evidence; `audit` reads the ticket itself)."""
    team = deployment.metadata.annotations.get(OWNER_TEAM_ANNOTATION)
    contact = deployment.metadata.annotations.get(OWNER_CONTACT_ANNOTATION)
    if not team:
        team, contact = _service_owner(deployment, services)
    if not team:
        return None
    return f"{team} ({contact})" if contact else team


def _service_owner(deployment: ModelDeployment, services: Sequence[ModelService]) -> tuple[str | None, str | None]:
    for s in services:
        if s.spec.owner is not None and any(e.selector.match_labels.get(DEPLOYMENT_LABEL) == deployment.name for e in s.spec.endpoints):
            return s.spec.owner.team, s.spec.owner.contact
    return None, None


def ticket_of(deployment: ModelDeployment) -> str | None:
    """The ticket a deployment's label names (display only)."""
    return deployment.metadata.labels.get(TICKET_LABEL)


def composing_ticket(deployment: ModelDeployment, tickets: Sequence[InferenceTicket]) -> InferenceTicket | None:
    """The ticket whose uid the deployment's controller ownerReference names, if any."""
    for ref in deployment.metadata.owner_references:
        if not ref.controller or ref.kind != InferenceTicket.KIND:
            continue
        for t in tickets:
            if t.namespace == deployment.namespace and t.metadata.uid == ref.uid:
                return t
    return None


def retires_text(deployment: ModelDeployment, *, now: float | None = None) -> str:
    """`in 12d`, `retired 3d ago`, or `-` without a date."""
    if not deployment.spec.retire_after:
        return "-"
    try:
        rule = RetirementRule.of(deployment.spec.retire_after)
    except (BadRetirementDate, ValueError):
        return "invalid date"
    return days_text(retirement_state(rule, time.time() if now is None else now))


@dataclass(frozen=True)
class Finding:
    namespace: str
    name: str
    owner: str | None
    ticket: str | None
    retires: str
    problems: tuple[str, ...]


def _ticket_problems(deployment: ModelDeployment, ticket: InferenceTicket | None, auto: frozenset[str]) -> list[str]:
    if ticket is None:
        claimed = [f"{k}={v}" for k, v in sorted(deployment.metadata.labels.items()) if k in (TICKET_LABEL, CANARY_LABEL)]
        tail = f" (it is labelled {', '.join(claimed)}, but a label is not a ticket)" if claimed else ""
        return [f"not composed from a ticket{tail}: write one (laneway ticket new --from) and have it approved"]
    s = ticket.status
    if s.approved_hash or "*" in auto or ticket.namespace in auto:
        return []
    return [f"ticket {ticket.name} composed it but carries no approval record: laneway ticket approve {ticket.name} -n {ticket.namespace}"]


def audit(
    deployments: Sequence[ModelDeployment],
    services: Sequence[ModelService],
    *,
    tickets: Sequence[InferenceTicket] = (),
    gateways: Sequence[InferenceGateway] = (),
    now: float,
) -> list[Finding]:
    """Every deployment with no owner, no composing ticket or no approval, with what is missing (pure)."""
    auto = auto_approved_namespaces(gateways)
    findings = []
    for d in sorted(deployments, key=lambda d: (d.namespace, d.name)):
        ticket = composing_ticket(d, tickets)
        problems = _ticket_problems(d, ticket, auto)
        owner_row = ticket.spec.endpoint if ticket is not None else None
        team: str | None
        contact: str | None
        if owner_row is not None and not owner_row.is_none() and owner_row.owner is not None and owner_row.owner.team:
            team, contact = owner_row.owner.team, owner_row.owner.contact
        else:
            team, contact = _service_owner(d, [s for s in services if s.namespace == d.namespace])
        owner = (f"{team} ({contact})" if contact else team) if team else None
        if owner is None:
            problems.insert(0, "no owner: compose it from a ticket, or set an owner on a service that routes to it")
        if problems:
            findings.append(Finding(d.namespace, d.name, owner, ticket.name if ticket else None, retires_text(d, now=now), tuple(problems)))
    return findings
