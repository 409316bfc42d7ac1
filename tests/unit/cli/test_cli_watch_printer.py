"""What `get -w` prints per event: rows under the first rows' columns, an EVENT column that fits
every event type, one document/name/template output per change; where a watch resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cli_objects import deployment

from laneway.api.registry import lookup
from laneway.cli.get_watch import WatchPrinter, resume_from
from laneway.cli.output import OutputFormat, OutputType
from laneway.client import WatchEvent

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)
MD = lookup("md")


def printer(output: str = "table", *, events: bool = False) -> WatchPrinter:
    fmt = OutputType().convert(output, None, None)
    return WatchPrinter(kind="ModelDeployment", info=MD, output=fmt, events=events)


def test_rows_after_the_list_line_up_under_its_header() -> None:
    p = printer()
    first = p.initial([deployment()], NOW)
    assert first[0].split()[:2] == ["NAME", "READY"] and first[1].startswith("llama")
    later = p.event(WatchEvent("MODIFIED", deployment(**{"spec.replicas": 5})), NOW)
    assert len(later) == 1, "no second header"
    assert later[0].index("0/5") == first[0].index("READY"), (first, later)


def test_an_empty_list_prints_the_header_with_the_first_event() -> None:
    p = printer()
    assert p.initial([], NOW) == []
    lines = p.event(WatchEvent("ADDED", deployment()), NOW)
    assert lines[0].startswith("NAME") and lines[1].startswith("llama")


def test_the_event_column_fits_every_event_type() -> None:
    p = printer(events=True)
    first = p.initial([deployment()], NOW)
    assert first[0].startswith("EVENT") and first[1].startswith("ADDED")
    modified = p.event(WatchEvent("MODIFIED", deployment()), NOW)[0]
    assert modified.index("llama") == first[1].index("llama")


def test_documents_names_and_templates_print_one_per_event() -> None:
    event = WatchEvent("DELETED", deployment())
    assert json.loads(printer("json").event(event, NOW)[0])["metadata"]["name"] == "llama"
    typed = json.loads(printer("json", events=True).event(event, NOW)[0])
    assert typed["type"] == "DELETED" and typed["object"]["kind"] == "ModelDeployment"
    assert printer("yaml").event(event, NOW)[0] == "---"
    assert printer("name").event(event, NOW) == ["modeldeployment/llama"]
    assert printer("name", events=True).event(event, NOW) == ["DELETED modeldeployment/llama"]
    assert printer("jsonpath={.metadata.name}{'\\n'}").event(event, NOW) == ["llama\n"]


def test_a_watch_resumes_from_the_last_object_seen() -> None:
    md = deployment(**{"metadata.resourceVersion": "42"})
    assert resume_from("7", WatchEvent("MODIFIED", md)) == "42"
    assert resume_from("7", WatchEvent("MODIFIED", deployment())) == "7"


def test_output_format_names_and_jsonpath() -> None:
    assert OutputType().convert("wide", None, None) == OutputFormat("wide")
    fmt = OutputType().convert("jsonpath={.kind}", None, None)
    assert fmt.name == "jsonpath" and fmt.template is not None and not fmt.is_table
