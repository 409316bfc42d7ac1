"""The platform switch that closes the side doors around tickets.

Where the platform lists a namespace (or `*`) in an InferenceGateway's
`spec.tickets.requireTicket`, the only ModelDeployments, ModelServices and (external)
ModelEndpoints there are the ones an approved ticket composed (replica endpoints are written by
laneway's own controllers, not through a team token). The ticket controller writes those to the store itself, with a
controller ownerReference no team token may write (`authz`), so every team-token write of
these kinds through the API in such a namespace is a side door: a hand-written deployment,
the output of `laneway ticket render` of a ticket nobody approved, a deployment labelled as a
canary, an external endpoint labelled inside a data boundary by the team that wrote it. All are refused (403) with the way in: a ticket, approved; a canary declared in its
lifecycle row. Platform and admin tokens are not gated (the platform lane answers for them).
"""

from __future__ import annotations

from laneway.api.kinds import InferenceGateway
from laneway.api.meta import Resource
from laneway.server.errors import forbidden
from laneway.store.base import Store, TokenRecord
from laneway.ticket.policy import TicketPolicy

GATED_KINDS: frozenset[str] = frozenset({"ModelDeployment", "ModelService", "ModelEndpoint"})


def refuse_unticketed(store: Store, grant: TokenRecord, obj: Resource) -> None:
    """Raise 403 when a team token writes a gated kind in a namespace that requires tickets."""
    if grant.role != "team" or obj.kind not in GATED_KINDS:
        return
    policy = TicketPolicy.of(store.list(InferenceGateway).items)
    if not policy.requires_ticket(obj.namespace):
        return
    raise forbidden(
        f"namespace {obj.namespace!r} runs {obj.kind}s only as an approved InferenceTicket composes them "
        "(the platform's InferenceGateway spec.tickets.requireTicket): write a ticket (laneway ticket new "
        f"{obj.name}), have the platform approve it, and declare a canary in its lifecycle row (lifecycle.canary)",
        kind=obj.kind,
        name=obj.name,
    )
