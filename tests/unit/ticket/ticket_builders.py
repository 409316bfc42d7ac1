"""Plain-data builders for the ticket tests: a small EU/US fleet and a filled ticket."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from laneway.api.kinds import InferenceTicket
from laneway.api.kinds.platform import ExternalProvider
from laneway.api.kinds.secret import Secret
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.api.manifest import load_paths
from laneway.cli.plan import assume_ready
from laneway.egress.destinations import PLATFORM_LANE
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.policy import TicketPolicy

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "tickets"
NOW = 1_900_000_000.0  # 2030-03-17, a fixed clock for every test


def fleet() -> FleetSnapshot:
    snap = FleetSnapshot.of(load_paths([str(EXAMPLES / "fleet.yaml")]))
    return snap.with_clusters([assume_ready(c) for c in snap.clusters])


def ticket_doc() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "pr-review.yaml").read_text())


def ticket(**rows: Any) -> InferenceTicket:
    """The filled example, with rows replaced (a value of None removes the row)."""
    doc = copy.deepcopy(ticket_doc())
    for key, value in rows.items():
        key = {"fleet_boundary": "fleetBoundary"}.get(key, key)
        if value is None:
            doc["spec"].pop(key, None)
        else:
            doc["spec"][key] = value
    return InferenceTicket.model_validate(doc)


def providers() -> tuple[ExternalProvider, ...]:
    """The providers examples/tickets/fleet.yaml's platform vouches for."""
    return TicketPolicy.of(fleet().gateways).providers


def provider_keys() -> list[Secret]:
    """examples/tickets/provider-keys.yaml as the API server stores it: stamped platform-written."""
    out = []
    for s in load_paths([str(EXAMPLES / "provider-keys.yaml")]):
        assert isinstance(s, Secret)
        meta = s.metadata.model_copy(update={"annotations": {**s.metadata.annotations, WRITTEN_BY_ANNOTATION: PLATFORM_LANE}})
        out.append(s.model_copy(update={"metadata": meta}))
    return out
