"""Rendering objects for people (aligned tables) and for scripts (JSON, YAML).

Pure functions from resources to text; the commands print what these return. `-o json` and
`-o yaml` print one object as itself and several as a Kubernetes `List`, so a script reads
`.items[]` or the object without guessing. Secrets arrive already redacted by the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import yaml

from laneway.api.meta import Resource
from laneway.cli.columns import NONE, columns_for

if TYPE_CHECKING:
    from laneway.cli.jsonpath import Template

    _FormatParam = click.ParamType["OutputFormat", str]
else:  # click's ParamType is generic for type checkers; older clicks cannot subscript it at run time
    _FormatParam = click.ParamType

OUTPUT_FORMATS = ("table", "wide", "yaml", "json", "name")
JSONPATH_PREFIX = "jsonpath="


@dataclass(frozen=True)
class OutputFormat:
    """What `-o` asked for: one of OUTPUT_FORMATS, or `jsonpath` with its parsed template."""

    name: str
    template: Template | None = None

    @property
    def is_table(self) -> bool:
        return self.name in ("table", "wide")


class OutputType(_FormatParam):
    """`-o`: a format name, or `jsonpath=TEMPLATE` (kubectl's; `-o jsonpath='{.items[*].metadata.name}'`).
    A template that does not parse is a usage error before anything is sent."""

    name = "FORMAT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> OutputFormat:
        if isinstance(value, OutputFormat):
            return value
        text = str(value)
        if text in OUTPUT_FORMATS:
            return OutputFormat(text)
        if text.startswith(JSONPATH_PREFIX) or text == "jsonpath":
            from laneway.cli.jsonpath import TemplateError, parse_template  # jsonpath-ng loads only when used

            source = text.removeprefix("jsonpath").removeprefix("=")
            if not source:
                self.fail("jsonpath needs a template: -o jsonpath='{.items[*].metadata.name}'", param, ctx)
            try:
                return OutputFormat("jsonpath", parse_template(source))
            except TemplateError as e:
                self.fail(str(e), param, ctx)
        self.fail(f"unknown output format {text!r}: use one of {', '.join(OUTPUT_FORMATS)} or jsonpath=TEMPLATE", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(OUTPUT_FORMATS) + "|jsonpath=TEMPLATE]"


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


def column_widths(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[int]:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    return widths


def align_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One line of a table: each cell padded to its column's width, three spaces apart.
    A cell wider than its column (a row printed later by `get -w`) pushes the rest right."""
    return "   ".join(cell.ljust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(cells)).rstrip()


def render_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = column_widths(rows, headers)
    return "\n".join(align_row(row, widths) for row in [list(headers), *rows])


def resource_rows(
    items: Sequence[Resource],
    *,
    kind: str,
    now: datetime,
    wide: bool = False,
    show_namespace: bool = False,
    show_kind: bool = False,
) -> tuple[list[str], list[list[str]]]:
    """The headers and cells of one kind's table (see `resource_table`)."""
    columns = columns_for(kind, wide=wide)
    headers = (["NAMESPACE"] if show_namespace else []) + ["NAME"] + [c.header for c in columns] + ["AGE"]
    rows = []
    for obj in items:
        name = f"{kind.lower()}/{obj.name}" if show_kind else obj.name
        row = ([obj.namespace or NONE] if show_namespace else []) + [name]
        row += [_cell(c.value, obj) for c in columns]
        row.append(age(obj.metadata.creation_timestamp, now))
        rows.append(row)
    return headers, rows


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
    headers, rows = resource_rows(items, kind=kind, now=now, wide=wide, show_namespace=show_namespace, show_kind=show_kind)
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


def render_documents(items: Sequence[Resource], *, output: str | OutputFormat, single: bool) -> str:
    """`-o json`, `-o yaml` or `-o jsonpath=...` of the objects: the object itself when `single`,
    else a List (as kubectl applies a template to a list's `.items`)."""
    document = as_document(items, single=single)
    fmt = output if isinstance(output, OutputFormat) else OutputFormat(output)
    if fmt.template is not None:
        return fmt.template.render(document)
    return to_json(document) if fmt.name == "json" else to_yaml(document)
