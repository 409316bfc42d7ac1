"""What a deleted ticket leaves behind: its service, as a tombstone that answers 410 Gone. Pure.

Deleting a ticket deletes what it composed, but callers of its service would then get a bare
404 with nobody's name on it. The ticket holds the finalizer `laneway.dev/tombstone`; when it
is deleted the ticket controller deletes the deployment, endpoints and cache, and turns the
service into a tombstone before letting the ticket go:

- its ownerReference to the ticket is dropped (so the garbage collector leaves it), and it
  keeps its `laneway.dev/ticket` label (so the controller still finds it under the ticket's name);
- `laneway.dev/retired` holds the 410 message: which service, when and by which ticket's
  deletion it was retired, and whom to contact (the ticket's owner); a service already retired
  by its date keeps that message;
- `laneway.dev/tombstone-until` says until when (RFC 3339): the platform's tombstone period
  (`spec.tickets.tombstonePeriod` on the InferenceGateways, 30 days unless set) after the
  deletion, or what was left of a retirement's tombstone. The ticket controller deletes it then.

A new ticket of the same name takes a tombstone over (its service is composed again, owned by
the new ticket), so the name is never stuck. Both annotations are laneway's own: no client but
an admin can write them; the team may delete the tombstone, as anything in its namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from laneway.api.kinds.serving import ModelService
from laneway.api.labels import RETIRED_ANNOTATION, TICKET_LABEL, TOMBSTONE_UNTIL_ANNOTATION
from laneway.api.meta import LABEL_PREFIX, rfc3339
from laneway.ticket.retirement import gone_message

TOMBSTONE_FINALIZER = LABEL_PREFIX + "tombstone"
"""On an InferenceTicket: its deletion waits until its service is a tombstone."""


def deleted_message(*, service: str, ticket: str, date_text: str, team: str | None, contact: str | None) -> str:
    """The 410 message of a service whose ticket was deleted."""
    return gone_message(what=f"service {service}", date_text=date_text, team=team, contact=contact,
                        how=f"when its InferenceTicket {ticket!r} was deleted")


def day_text(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def tombstone_of(service: ModelService, *, ticket_uid: str, message: str, until: float) -> ModelService:
    """`service` released from its ticket and marked as a tombstone until `until` (a time in
    seconds since the epoch); a retirement message already on it is kept."""
    annotations = dict(service.metadata.annotations)
    annotations.setdefault(RETIRED_ANNOTATION, message)
    annotations[TOMBSTONE_UNTIL_ANNOTATION] = rfc3339(until)
    refs = [r for r in service.metadata.owner_references if r.uid != ticket_uid]
    meta = service.metadata.model_copy(update={"annotations": annotations, "owner_references": refs})
    return service.model_copy(update={"metadata": meta})


def tombstone_until(service: ModelService) -> float | None:
    """Until when `service` stands as a tombstone, or None when it is none (or the mark is unreadable)."""
    raw = service.metadata.annotations.get(TOMBSTONE_UNTIL_ANNOTATION)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def is_tombstone_of(service: ModelService, ticket_name: str) -> bool:
    """Whether `service` is the tombstone a deleted ticket of this name left (no owner, the mark)."""
    return (
        service.metadata.labels.get(TICKET_LABEL) == ticket_name
        and not service.metadata.owner_references
        and TOMBSTONE_UNTIL_ANNOTATION in service.metadata.annotations
    )
