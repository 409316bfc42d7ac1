"""How much of a machine's heartbeat the cluster's status may keep.

A machine's reports are stored in its InferenceCluster's status, which every heartbeat of
every machine rewrites and every reader of the fleet loads. A compromised machine (its
credential is all it takes) could otherwise fill that status up to the API's 4 MiB body
limit on each beat. So a report is bounded by what the machine was given to run: one report
per replica, an address per engine copy the replica has, a member per process it has, and
byte caps on one report and on all of a machine's reports (`protocol.MAX_REPORT_BYTES`,
`MAX_MACHINE_REPORT_BYTES`). Pure functions; the agent door (`server/agent_api.py`) refuses.
"""

from __future__ import annotations

import json

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.meta import Model
from laneway.drivers.machines.membership import pods_of
from laneway.drivers.machines.protocol import MAX_MACHINE_REPORT_BYTES, MAX_REPORT_BYTES, ReplicaReport


def stored_bytes(*documents: Model) -> int:
    """What the documents take as stored (compact JSON, UTF-8)."""
    return sum(len(json.dumps(d.wire(), separators=(",", ":")).encode()) for d in documents)


def _engines(replica: ModelReplica) -> str:
    return ", ".join(f"{e.name} x{e.copies}" for e in replica.spec.engines) or "none"


def report_refusal(replica: ModelReplica, report: ReplicaReport) -> str | None:
    """Why the report says more than the replica could have (None when it does not): an
    address of an engine copy the replica does not have or one reported twice, or more
    members than the replica has processes."""
    where = f"the report of replica {replica.namespace}/{replica.name}"
    copies = {(e.name, c) for e in replica.spec.engines for c in range(e.copies)}
    seen: set[tuple[str, int]] = set()
    for a in report.addresses:
        copy = (a.engine, a.engine_copy)
        if copy not in copies:
            return (f"{where} gives an address for engine {a.engine!r} copy {a.engine_copy}, which the replica does not "
                    f"have (its engines: {_engines(replica)})")
        if copy in seen:
            return f"{where} gives two addresses for engine {a.engine!r} copy {a.engine_copy}: one per engine copy"
        seen.add(copy)
    processes = len(pods_of(replica))
    if len(report.members) > processes:
        return f"{where} lists {len(report.members)} members; the replica has {processes} processes"
    if len({m.id for m in report.members}) < len(report.members):
        return f"{where} lists a member id twice: one entry per process"
    return None


def size_refusal(replica: ModelReplica, size: int) -> str | None:
    if size <= MAX_REPORT_BYTES:
        return None
    return (f"the report of replica {replica.namespace}/{replica.name} would take {size} bytes of the cluster's status, "
            f"over the {MAX_REPORT_BYTES} one report may take: shorten its message or the model names its engines report")


def total_refusal(machine: str, size: int) -> str | None:
    if size <= MAX_MACHINE_REPORT_BYTES:
        return None
    return (f"machine {machine}'s reports would take {size} bytes of the cluster's status, over the "
            f"{MAX_MACHINE_REPORT_BYTES} one machine's reports may take together: shorten their messages")
