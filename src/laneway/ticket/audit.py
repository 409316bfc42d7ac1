"""Nothing load-bearing by accident: who owns each deployment, which ticket it came from, and
when it retires, for `laneway get md -o wide` and `laneway audit`. Pure.

A deployment's owner is its `laneway.dev/owner-team` annotation (a ticket writes it), else the
`owner` of a service that routes to it. Its ticket is the `laneway.dev/ticket` label a ticket
stamps on what it composes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from laneway.api.kinds import ModelDeployment, ModelService
from laneway.api.labels import DEPLOYMENT_LABEL, OWNER_CONTACT_ANNOTATION, OWNER_TEAM_ANNOTATION, TICKET_LABEL
from laneway.ticket.retirement import BadRetirementDate, RetirementRule, days_text, retirement_state


def owner_text(deployment: ModelDeployment, services: Sequence[ModelService] = ()) -> str | None:
    team = deployment.metadata.annotations.get(OWNER_TEAM_ANNOTATION)
    contact = deployment.metadata.annotations.get(OWNER_CONTACT_ANNOTATION)
    if not team:
        for s in services:
            if s.spec.owner is not None and any(e.selector.match_labels.get(DEPLOYMENT_LABEL) == deployment.name for e in s.spec.endpoints):
                team, contact = s.spec.owner.team, s.spec.owner.contact
                break
    if not team:
        return None
    return f"{team} ({contact})" if contact else team


def ticket_of(deployment: ModelDeployment) -> str | None:
    return deployment.metadata.labels.get(TICKET_LABEL)


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


def audit(deployments: Sequence[ModelDeployment], services: Sequence[ModelService], *, now: float) -> list[Finding]:
    """Every deployment with no owner or no ticket, with what is missing (pure)."""
    findings = []
    for d in sorted(deployments, key=lambda d: (d.namespace, d.name)):
        in_ns = [s for s in services if s.namespace == d.namespace]
        owner = owner_text(d, in_ns)
        ticket = ticket_of(d)
        problems = []
        if owner is None:
            problems.append("no owner: compose it from a ticket, or set an owner on a service that routes to it")
        if ticket is None:
            problems.append("no ticket: write one (laneway ticket new --from) and apply it")
        if problems:
            findings.append(Finding(d.namespace, d.name, owner, ticket, retires_text(d, now=now), tuple(problems)))
    return findings
