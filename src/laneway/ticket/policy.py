"""The platform's rules for tickets, read from the InferenceGateways (`spec.tickets`). Pure.

Only the platform lane writes InferenceGateways, so what is read here is the platform's word:
the longest retirement horizon, the shape of a pager contact, the namespaces where only
approved tickets may put deployments and services in place, the external providers an
overflow row may name, and how long a deleted ticket's service stands as a tombstone. With
several gateways, the strictest rule wins: the shortest horizon, every contact pattern, every
listed namespace, every provider (the first of a name), the longest tombstone (callers are
told whom to ask for as long as any gateway promises it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from laneway.api.kinds import InferenceGateway
from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import ExternalProvider
from laneway.ticket.retirement import DEFAULT_TOMBSTONE


@dataclass(frozen=True)
class TicketPolicy:
    max_horizon: float | None = None
    """Seconds ahead a retirement date may lie; None when the platform set no horizon."""
    max_horizon_text: str | None = None
    contact_patterns: tuple[str, ...] = ()
    require_ticket: frozenset[str] = frozenset()
    providers: tuple[ExternalProvider, ...] = ()
    tombstone: float = parse_duration(DEFAULT_TOMBSTONE)
    """Seconds a deleted (or expired) ticket's service stands as a tombstone answering 410."""
    tombstone_text: str = DEFAULT_TOMBSTONE

    @classmethod
    def of(cls, gateways: Sequence[InferenceGateway]) -> TicketPolicy:
        horizons = [(parse_duration(g.spec.tickets.max_retirement_horizon), g.spec.tickets.max_retirement_horizon)
                    for g in gateways if g.spec.tickets.max_retirement_horizon]
        shortest = min(horizons) if horizons else (None, None)
        tombstones = [(parse_duration(g.spec.tickets.tombstone_period), g.spec.tickets.tombstone_period)
                      for g in gateways if g.spec.tickets.tombstone_period]
        tombstone = max(tombstones) if tombstones else (parse_duration(DEFAULT_TOMBSTONE), DEFAULT_TOMBSTONE)
        providers: dict[str, ExternalProvider] = {}
        for g in sorted(gateways, key=lambda g: g.name):
            for p in g.spec.tickets.providers:
                providers.setdefault(p.name, p)
        return cls(
            max_horizon=shortest[0],
            max_horizon_text=shortest[1],
            contact_patterns=tuple(g.spec.tickets.contact_pattern for g in gateways if g.spec.tickets.contact_pattern),
            require_ticket=frozenset(ns for g in gateways for ns in g.spec.tickets.require_ticket),
            providers=tuple(providers.values()),
            tombstone=tombstone[0],
            tombstone_text=tombstone[1],
        )

    def provider(self, name: str) -> ExternalProvider | None:
        for p in self.providers:
            if p.name == name:
                return p
        return None

    def contact_refusal(self, contact: str) -> str | None:
        """Why `contact` does not have the shape the platform asks for, or None."""
        for pattern in self.contact_patterns:
            if not re.fullmatch(pattern, contact.strip()):
                return f"contact {contact!r} does not have the shape the platform requires ({pattern})"
        return None

    def requires_ticket(self, namespace: str) -> bool:
        return "*" in self.require_ticket or namespace in self.require_ticket
