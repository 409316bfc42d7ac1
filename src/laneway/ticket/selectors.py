"""The cluster selector a ticket composes: its fleet boundary and its sovereignty rule, both.

Placement must satisfy both rows, so they are merged into one selector (labels and
expressions together). Two rows that pin the same label to different values can never be met
together; that is reported as a conflict rather than silently matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from laneway.api.kinds.ticket import InferenceTicketSpec, SelectorRow
from laneway.api.selectors import LabelSelector


@dataclass(frozen=True)
class MergedSelector:
    selector: LabelSelector
    conflicts: tuple[str, ...] = ()


def row_selector(row: SelectorRow | None) -> LabelSelector:
    """A selector row as a LabelSelector; a missing or `none` row selects everything."""
    if row is None or row.is_none():
        return LabelSelector()
    return LabelSelector(match_labels=dict(row.match_labels), match_expressions=list(row.match_expressions))


def cluster_selector(spec: InferenceTicketSpec) -> MergedSelector:
    """fleetBoundary AND sovereignty, with every label both pin to different values named."""
    fleet = row_selector(spec.fleet_boundary)
    sovereign = row_selector(spec.sovereignty)
    conflicts = tuple(
        f"label {k!r} is {fleet.match_labels[k]!r} in fleetBoundary but {v!r} in sovereignty"
        for k, v in sorted(sovereign.match_labels.items())
        if k in fleet.match_labels and fleet.match_labels[k] != v
    )
    merged = LabelSelector(
        match_labels={**fleet.match_labels, **sovereign.match_labels},
        match_expressions=[*fleet.match_expressions, *sovereign.match_expressions],
    )
    return MergedSelector(merged, conflicts)
