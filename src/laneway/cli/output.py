"""Rendering objects for people (aligned tables) and for scripts (JSON, YAML).

Pure functions from resources to text; the commands print what these return. `-o json` and
`-o yaml` print one object as itself and several as a Kubernetes `List`, so a script reads
`.items[]` or the object without guessing. Secrets arrive already redacted by the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from laneway.api.meta import Resource
from laneway.cli.columns import NONE, columns_for

OUTPUT_FORMATS = ("table", "wide", "yaml", "json", "name")


def parse_timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(timestamp: str | None, now: datetime) -> str:
    """kubectl's short age: `42s`, `5m`, `3h`, `2d`, `1y` (two units while the first is small)."""
    then = parse_timestamp(timestamp)
    if then is None:
        return NONE
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def render_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def resource_table(
    items: Sequence[Resource],
    *,
    kind: str,
    now: datetime,
    wide: bool = False,
    show_namespace: bool = False,
    show_kind: bool = False,
) -> str:
    """One kind's objects as a table: [NAMESPACE] NAME <kind columns> AGE.
    `show_kind` prefixes names with `kind/` when several kinds print one after another."""
    columns = columns_for(kind, wide=wide)
    headers = (["NAMESPACE"] if show_namespace else []) + ["NAME"] + [c.header for c in columns] + ["AGE"]
    rows = []
    for obj in items:
        name = f"{kind.lower()}/{obj.name}" if show_kind else obj.name
        row = ([obj.namespace or NONE] if show_namespace else []) + [name]
        row += [_cell(c.value, obj) for c in columns]
        row.append(age(obj.metadata.creation_timestamp, now))
        rows.append(row)
    return render_table(rows, headers)


def _cell(value: Any, obj: Resource) -> str:
    """A column that cannot read an unexpected object prints `-` rather than failing the table."""
    try:
        text = value(obj)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError):
        return NONE
    return text if text else NONE


def as_document(items: Sequence[Resource], *, single: bool) -> dict[str, Any]:
    if single and len(items) == 1:
        return items[0].wire()
    return {"apiVersion": "v1", "kind": "List", "items": [i.wire() for i in items]}


def to_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (CEL selectors, scripts) print as `|` blocks a person can read."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip("\n")


def without_empties(document: Any) -> Any:
    """The document minus empty maps and lists (defaults nobody wrote), for reading, not for scripts."""
    if isinstance(document, dict):
        pruned = {k: without_empties(v) for k, v in document.items()}
        return {k: v for k, v in pruned.items() if v not in ({}, [], None)}
    if isinstance(document, list):
        return [without_empties(v) for v in document]
    return document


def render_documents(items: Sequence[Resource], *, output: str, single: bool) -> str:
    document = as_document(items, single=single)
    return to_json(document) if output == "json" else to_yaml(document)
