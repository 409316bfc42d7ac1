"""InferenceTicket: the ten questions answered before any GPU is bought or endpoint exposed.

The spec has exactly one key per row, in the ticket's order. A row answered with
`none: <why>` is deliberately empty and counts as filled; a missing row does not. Rows keep
what the later checks and composition need typed, and tolerate extra fields as written.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from laneway.api.kinds.common import SecretKeyRef
from laneway.api.meta import Model, OpenModel, Resource, Status

TICKET_ROWS = (
    "model",
    "engine",
    "hardware",
    "fleetBoundary",
    "sovereignty",
    "scaling",
    "endpoint",
    "overflow",
    "cache",
    "lifecycle",
)


class Row(OpenModel):
    """Every row may instead say `none: <why>`."""

    none: str | None = None


class ModelRow(Row):
    name: str | None = None
    job: str | None = None


class EngineRow(Row):
    image: str | None = None
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)


class TicketOverflowAuth(Model):
    secret_ref: SecretKeyRef


class OverflowRow(Row):
    tier: Literal["Overflow", "BreakGlass"] | None = None
    url: str | None = None
    model: str | None = None
    auth: TicketOverflowAuth | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class InferenceTicketSpec(Model):
    model: ModelRow | None = None
    engine: EngineRow | None = None
    hardware: Row | None = None
    fleet_boundary: Row | None = None
    sovereignty: Row | None = None
    scaling: Row | None = None
    endpoint: Row | None = None
    overflow: OverflowRow | None = None
    cache: Row | None = None
    lifecycle: Row | None = None


class InferenceTicketStatus(Status):
    approved: bool | None = None


class InferenceTicket(Resource):
    KIND: ClassVar[str] = "InferenceTicket"
    PLURAL: ClassVar[str] = "inferencetickets"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("tk",)

    kind: Literal["InferenceTicket"] = "InferenceTicket"
    spec: InferenceTicketSpec
    status: InferenceTicketStatus = Field(default_factory=InferenceTicketStatus)
