"""`laneway describe`: one object told in full for a person, with what it relates to.

The text shows identity and metadata, the spec and the status as YAML (conditions pulled out
into a table, since they are what one reads first when something is wrong), then related
objects: its owners, and what it owns. Finding the related objects is I/O and happens in the
command; rendering here is a pure function of what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from laneway.api.meta import Resource
from laneway.cli.columns import NONE, condition_status
from laneway.cli.output import age, render_table, to_yaml, without_empties


@dataclass(frozen=True)
class Related:
    """An object next to the described one, and how: `owner` or `owned`."""

    relation: str
    object: Resource


def _indent(text: str, spaces: int = 2) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.splitlines())


MAX_VALUE_CHARS = 120
"""Longer label or annotation values (a JSON history a controller keeps, say) are shortened
so they do not bury the rest; `-o yaml` shows them whole."""


def _shortened(value: str) -> str:
    if len(value) <= MAX_VALUE_CHARS:
        return value
    return f"{value[:MAX_VALUE_CHARS - 40]}... ({len(value)} characters; see -o yaml)"


def _mapping(values: dict[str, str]) -> str:
    if not values:
        return "<none>"
    return "\n" + "\n".join(f"  {k}={_shortened(v)}" for k, v in sorted(values.items()))


def _field(label: str, value: str) -> str:
    return f"{label + ':':<19} {value}"


def describe_text(obj: Resource, *, related: Sequence[Related], now: datetime) -> str:
    meta = obj.metadata
    wire = without_empties(obj.wire())
    lines = [
        _field("Name", meta.name),
        *([_field("Namespace", meta.namespace)] if meta.namespace else []),
        _field("Kind", f"{obj.kind} ({obj.api_version})"),
        _field("Labels", _mapping(meta.labels)),
        _field("Annotations", _mapping(meta.annotations)),
        _field("Created", f"{meta.creation_timestamp or NONE} ({age(meta.creation_timestamp, now)} ago)"),
        _field("UID", meta.uid or NONE),
        _field("Generation", str(meta.generation) if meta.generation is not None else NONE),
        _field("Resource Version", meta.resource_version or NONE),
    ]
    if meta.deletion_timestamp:
        lines.append(_field("Deleting since", meta.deletion_timestamp))
    if meta.finalizers:
        lines.append(_field("Finalizers", ", ".join(meta.finalizers)))

    body = {k: v for k, v in wire.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    if body:
        lines.append("Spec:" if set(body) == {"spec"} else "Content:")
        lines.append(_indent(to_yaml(body.get("spec", body) if set(body) == {"spec"} else body)))

    status: dict[str, Any] = dict(wire.get("status") or {})
    conditions = status.pop("conditions", [])
    observed = status.pop("observedGeneration", None)
    if observed is not None:
        lines.append(_field("Observed Generation", str(observed)))
    if status:
        lines.append("Status:")
        lines.append(_indent(to_yaml(status)))
    if "status" in type(obj).model_fields:  # a Secret has no status, hence no conditions
        lines += _conditions(conditions, now)

    lines.append("Related:")
    if related:
        rows = [
            [r.relation, f"{r.object.kind}/{r.object.name}", r.object.namespace or NONE, condition_status(r.object, _ready_type(r.object))]
            for r in related
        ]
        lines.append(_indent(render_table(rows, ["RELATION", "OBJECT", "NAMESPACE", "READY"])))
    else:
        lines.append("  <none>")
    return "\n".join(lines)


def _ready_type(obj: Resource) -> str:
    """The condition that says an object is ready: a ModelDeployment reports ReplicasReady."""
    return "ReplicasReady" if obj.kind == "ModelDeployment" else "Ready"


def _conditions(conditions: list[dict[str, Any]], now: datetime) -> list[str]:
    if not conditions:
        return ["Conditions:", "  <none yet: no controller has reported on this object>"]
    rows = [
        [c.get("type", ""), c.get("status", ""), c.get("reason") or NONE, age(c.get("lastTransitionTime"), now), c.get("message") or ""]
        for c in conditions
    ]
    return ["Conditions:", _indent(render_table(rows, ["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"]))]


def related_objects(obj: Resource, candidates: Sequence[Resource]) -> list[Related]:
    """Owners named in the object's ownerReferences and objects that list it as their owner."""
    owner_uids = {o.uid for o in obj.metadata.owner_references}
    out: list[Related] = []
    for c in candidates:
        if c.metadata.uid and c.metadata.uid in owner_uids:
            out.append(Related("owner", c))
        elif obj.metadata.uid and any(o.uid == obj.metadata.uid for o in c.metadata.owner_references):
            out.append(Related("owned", c))
    return sorted(out, key=lambda r: (r.relation != "owner", r.object.kind, r.object.name))
