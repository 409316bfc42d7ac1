"""The scaling row's arithmetic: how many replicas a peak load needs. Pure.

A replica holds as many requests in flight as its engine batches at once: the engine row's
declared limit (`--max-num-seqs` for vLLM, `--max-running-requests` for SGLang), else vLLM's
default of 256. The peak divided by that, rounded up, is what the peak needs; the row's
fixed `replicas` or autoscaling `maxReplicas` is what it may have. Latency at that load is not
modelled here: the budget is judged by the canary rule once traffic flows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from laneway.api.kinds.ticket import InferenceTicket

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
    for i, arg in enumerate(args):
        for flag in CONCURRENCY_FLAGS:
            value: str | None = None
            if arg == flag and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(flag + "="):
                value = arg.split("=", 1)[1]
            if value is not None and value.strip().isdigit() and int(value) > 0:
                return int(value)
    return None


def load_against_capacity(ticket: InferenceTicket) -> Load:
    """The replicas the scaling row's peak needs against what the row allows (pure)."""
    scaling = ticket.spec.scaling
    engine = ticket.spec.engine
    peak = scaling.peak_concurrency if scaling is not None and scaling.peak_concurrency else 0
    args = [*engine.command, *engine.args] if engine is not None and not engine.is_none() else []
    declared = declared_concurrency(args)
    per_replica = declared or DEFAULT_PER_REPLICA
    source = "the engine's declared limit" if declared else "the engine declares no --max-num-seqs: the default"
    if scaling is not None and scaling.replicas is not None:
        planned, field = scaling.replicas, "replicas"
    else:
        planned = scaling.max_replicas if scaling is not None and scaling.max_replicas is not None else 0
        field = "maxReplicas"
    return Load(math.ceil(peak / per_replica), planned, per_replica, source, field)
