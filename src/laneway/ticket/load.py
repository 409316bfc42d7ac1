"""The scaling row's arithmetic: how many replicas a peak load needs. Pure.

A replica holds as many requests in flight as its engine batches at once. Where the fleet has
measured it, that figure wins: the most requests an engine of the ticket's own running
deployment was seen running while requests waited (the gateway reads it from the engines'
metrics and writes it per service entry in the service's `status.traffic[].concurrency`, see
`laneway.gateway.load.saturated_running`), provided that deployment runs the template these
rows compose (a changed engine or hardware row makes the old figure another engine's).
Otherwise the engine row's declared limit (`--max-num-seqs` for vLLM, `--max-running-requests`
for SGLang), else vLLM's default of 256. The source used is part of the row's message. The
peak divided by the per-replica figure, rounded up, is what the peak needs; the row's fixed
`replicas` or autoscaling `maxReplicas` is what it may have. Latency at that load is not
modelled here: the budget is judged by the canary rule once traffic flows. Metered token
throughput (economics) is not used: it says how much a replica did, not how much it can hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.serving import ModelService
from laneway.api.kinds.ticket import InferenceTicket
from laneway.api.meta import Resource
from laneway.ticket.engine_args import positive_flag

R = TypeVar("R", bound=Resource)

DEFAULT_PER_REPLICA = 256
"""vLLM's default `--max-num-seqs`: sequences one replica runs at once."""
CONCURRENCY_FLAGS = ("--max-num-seqs", "--max-running-requests")


@dataclass(frozen=True)
class Load:
    needed: int
    planned: int
    per_replica: int
    source: str
    """Where `per_replica` came from, for the check's message."""
    field: str
    """The scaling field that bounds `planned` (`replicas` or `maxReplicas`)."""


def declared_concurrency(args: Sequence[str]) -> int | None:
    """The engine's declared per-replica limit from its arguments, if any."""
    return positive_flag(args, CONCURRENCY_FLAGS)


@dataclass(frozen=True)
class Measurement:
    """What the fleet measured of the ticket's engines: `per_replica` when it counts, and in
    `note` where it came from, or why there is nothing to use."""

    per_replica: int | None
    note: str


PRIMARY_ENTRY = "primary"
"""The service entry of the ticket's own deployment (`laneway.ticket.compose.PRIMARY_ENTRY`)."""


def _composed_by(obj: Resource, ticket: InferenceTicket) -> bool:
    """Whether the ticket composed `obj`: its controller ownerReference (which no team token can
    write) names the ticket, by uid when the ticket is stored, else by name (a file checked
    online against the fleet)."""
    for ref in obj.metadata.owner_references:
        if ref.controller and ref.kind == "InferenceTicket":
            return ref.uid == ticket.metadata.uid if ticket.metadata.uid else ref.name == ticket.name
    return False


def _owned(objs: Sequence[R], ticket: InferenceTicket, name: str) -> R | None:
    namespace = ticket.metadata.namespace or "default"
    for obj in objs:
        if obj.namespace == namespace and obj.name == name and not obj.metadata.deletion_timestamp and _composed_by(obj, ticket):
            return obj
    return None


def measured_concurrency(
    ticket: InferenceTicket,
    *,
    services: Sequence[ModelService],
    deployments: Sequence[ModelDeployment],
    composed: ModelDeployment,
    service: str,
) -> Measurement:
    """What an engine of the ticket's running deployment held when full, if it runs the
    template `composed` (what these rows compose) and a gateway saw it full."""
    live = _owned(deployments, ticket, composed.name)
    if live is None:
        return Measurement(None, "nothing measured: the ticket's deployment does not run yet")
    if live.spec.template.wire() != composed.spec.template.wire():
        return Measurement(None, f"not measured for these rows: ModelDeployment {live.name} runs another template (an "
                                 "engine or hardware row changed), so what its engines held is not this one's")
    svc = _owned(services, ticket, service)
    readings = [(t.gateway, t.concurrency[PRIMARY_ENTRY]) for t in (svc.status.traffic or []) if t.concurrency
                and PRIMARY_ENTRY in t.concurrency] if svc is not None else []
    if not readings:
        return Measurement(None, f"nothing measured yet: no engine of {live.name} has been seen full (requests waiting)")
    most = max(held for _, held in readings)
    gateways = ", ".join(sorted({g for g, held in readings if held == most}))
    return Measurement(most, f"measured: the most an engine of {live.name} ran at once while requests waited, "
                             f"from its metrics via gateway {gateways}")


def load_against_capacity(ticket: InferenceTicket, measured: Measurement | None = None) -> Load:
    """The replicas the scaling row's peak needs against what the row allows (pure). A
    measurement with a figure wins over the declared limit; one without is said alongside."""
    scaling = ticket.spec.scaling
    engine = ticket.spec.engine
    peak = scaling.peak_concurrency if scaling is not None and scaling.peak_concurrency else 0
    args = [*engine.command, *engine.args] if engine is not None and not engine.is_none() else []
    declared = declared_concurrency(args)
    per_replica = declared or DEFAULT_PER_REPLICA
    source = "the engine's declared limit" if declared else "the engine declares no --max-num-seqs: the default"
    if measured is not None and measured.per_replica is not None:
        per_replica = measured.per_replica
        source = measured.note + (f"; the engine declares {declared}" if declared else "")
    elif measured is not None:
        source = f"{source}; {measured.note}"
    if scaling is not None and scaling.replicas is not None:
        planned, field = scaling.replicas, "replicas"
    else:
        planned = scaling.max_replicas if scaling is not None and scaling.max_replicas is not None else 0
        field = "maxReplicas"
    return Load(math.ceil(peak / per_replica), planned, per_replica, source, field)
