"""`POST /apis/laneway.dev/v1alpha1/ticketchecks`: `laneway ticket check` online, on the server.

The body is an InferenceTicket; the answer is its report (`laneway.ticket.report.report_json`),
checked against the whole fleet as the ticket controller sees it: every cluster, class and
running replica, the gateways' rules and the provider keys. A team token's own view would
miss other teams' replicas and say "2 replicas fit" where the controller then places 1; here
the check and the controller agree. What a team token learns of the rest of the fleet is
capacity only: the scheduler's reasons count devices per pool and never name another team's
objects, and the provider key is looked up only in the ticket's namespace, which the token
must be allowed to read. Nothing is stored.
"""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import ValidationError

from laneway.api.kinds import InferenceTicket
from laneway.api.manifest import problems_from
from laneway.server import bodies
from laneway.server.authz import can_read_namespace, describe_grant
from laneway.server.context import grant_of, store_of
from laneway.server.errors import forbidden, invalid, method_not_allowed
from laneway.server.storecalls import run_store
from laneway.store.base import Store
from laneway.ticket.checks import TicketReport, check_ticket
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.report import report_json

DEFAULT_NAMESPACE = "default"


def _check(store: Store, ticket: InferenceTicket) -> TicketReport:
    return check_ticket(ticket, FleetSnapshot.from_store(store), now=time.time())


async def ticket_check(request: web.Request) -> web.Response:
    if request.method != "POST":
        raise method_not_allowed(f"{request.method} is not served on ticketchecks; POST an InferenceTicket", allow=("POST",))
    document = bodies.require_mapping(await bodies.read_body(request), "the ticket to check")
    try:
        ticket = InferenceTicket.model_validate(document)
    except ValidationError as e:
        name = document.get("metadata", {}).get("name") if isinstance(document.get("metadata"), dict) else None
        raise invalid("InferenceTicket", name if isinstance(name, str) else None, problems_from(e, model=InferenceTicket)) from None
    namespace = ticket.metadata.namespace or DEFAULT_NAMESPACE
    grant = grant_of(request)
    if not can_read_namespace(grant, namespace):
        raise forbidden(
            f"{describe_grant(grant)} may not check a ticket for namespace {namespace!r}: use a team token for that namespace",
            kind="inferencetickets",
        )
    ticket = ticket.model_copy(update={"metadata": ticket.metadata.model_copy(update={"namespace": namespace})})
    report = await run_store(_check, store_of(request), ticket)
    return web.json_response(report_json(report))
