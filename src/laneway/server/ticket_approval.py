"""Approving a ticket, as the API server records it: who, what, and whether rows were failing.

The platform lane approves with a status write that sets `approved: true` and a fresh
`approvedAt` (`laneway ticket approve` does). The server, not the client, then stamps the
approval record: the token's id and role, the ticket's generation, its material rows and
their hash (`laneway.ticket.approval`), and which failing rows an override covers. Any other
status write keeps the stored record as it was, so no client (a controller's write included)
can forge or move an approval. Approving while row conditions are failing needs
`approvalOverride: <reason>`; without one the write is refused and names the failing rows.
"""

from __future__ import annotations

from laneway.api.kinds.ticket import InferenceTicket, InferenceTicketStatus
from laneway.api.meta import Resource
from laneway.server.errors import ApiError
from laneway.server.token_admin import token_id
from laneway.store.base import TokenRecord
from laneway.ticket.approval import approval_record

RECORD_FIELDS = (
    "approved_by", "approved_role", "approved_at", "approved_generation",
    "approved_hash", "approved_rows", "approval_override", "overridden_rows",
)
"""The approval record: only a new approval writes it, and only from the server's facts."""


def failing_row_conditions(ticket: InferenceTicket) -> list[str]:
    """The rows the controller last reported failing (`HardwareRow=False` -> `hardware`)."""
    out = []
    for c in ticket.status.conditions:
        if c.type.endswith("Row") and c.status == "False":
            name = c.type[: -len("Row")]
            out.append(name[:1].lower() + name[1:])
    return out


def _asks_approval(new: InferenceTicketStatus, old: InferenceTicketStatus) -> bool:
    return bool(new.approved) and (not old.approved or (new.approved_at or "") != (old.approved_at or ""))


def stamp_approval(grant: TokenRecord, obj: Resource, existing: Resource, *, now: str) -> Resource:
    """`obj` (a status write) with the approval record the server vouches for (other kinds unchanged).

    Raises 422 when the write approves a ticket with failing rows and gives no override reason."""
    if not isinstance(obj, InferenceTicket) or not isinstance(existing, InferenceTicket):
        return obj
    new, old = obj.status, existing.status
    kept = {f: getattr(old, f) for f in RECORD_FIELDS}
    if not new.approved:
        status = new.model_copy(update={**kept, "approved": new.approved})
        return obj.model_copy(update={"status": status})
    if not _asks_approval(new, old):
        status = new.model_copy(update={**kept, "approved": old.approved})
        return obj.model_copy(update={"status": status})
    failing = failing_row_conditions(existing)
    reason = (new.approval_override or "").strip()
    if failing and not reason:
        raise ApiError(
            422, "Invalid",
            f"ticket {existing.name!r} has failing row(s): {', '.join(failing)}; fix them and approve again, "
            "or approve anyway with a recorded reason (laneway ticket approve --override \"<why>\")",
            name=existing.name, kind="InferenceTicket",
        )
    record = approval_record(existing, by=token_id(grant), role=grant.role, at=now, override=reason, failing=failing)
    return obj.model_copy(update={"status": new.model_copy(update=record)})
