"""`laneway get KIND [NAME] -w`: the list, then every change as the API's watch reports it.

The list is printed first (as `get` prints it), and its resourceVersion is where the watch
starts, so no change between the two is lost and none is printed twice. Each event is one
more row of the same table (the columns keep the widths of the first rows, as kubectl's do),
or one document, name or template output per event for `-o json|yaml|name|jsonpath=...`;
`--output-watch-events` adds the event type (an EVENT column, or `{"type", "object"}`
documents). A stream the server ends (its timeout) is resumed from the last resourceVersion
seen; one that fell behind the store's history (410 Gone) is listed again and resumed from
there, printing the objects as they are now. Ctrl-C ends the command with exit 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import click

from laneway.api.meta import Resource
from laneway.api.registry import KindInfo
from laneway.cli.kinds import ref
from laneway.cli.notfound import get_or_hint
from laneway.cli.output import OutputFormat, align_row, column_widths, render_documents, resource_rows, to_json, to_yaml
from laneway.client import ApiError, Client, WatchEvent

GONE = 410
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED")


@dataclass
class WatchPrinter:
    """Turns listed objects and watch events into lines, for one kind (pure apart from the clock
    it is given): the table's widths are fixed by the first rows it prints."""

    kind: str
    info: KindInfo
    output: OutputFormat
    show_namespace: bool = False
    events: bool = False
    widths: list[int] = field(default_factory=list)

    def initial(self, objects: list[Resource], now: datetime) -> list[str]:
        """The lines for the listed objects; a table prints its header even when empty, so the
        rows that follow line up under it (kubectl prints its header with the first row)."""
        if not self.output.is_table:
            return [line for obj in objects for line in self.event(WatchEvent("ADDED", obj), now)]
        headers, rows = self._rows([WatchEvent("ADDED", o) for o in objects], now)
        if not rows:
            return []
        self.widths = self._widths(rows, headers)
        return [align_row(headers, self.widths), *(align_row(r, self.widths) for r in rows)]

    def event(self, event: WatchEvent, now: datetime) -> list[str]:
        """The lines for one event."""
        fmt = self.output
        if fmt.is_table:
            headers, rows = self._rows([event], now)
            lines = []
            if not self.widths:
                self.widths = self._widths(rows, headers)
                lines.append(align_row(headers, self.widths))
            return [*lines, align_row(rows[0], self.widths)]
        if fmt.name == "name":
            name = ref(self.info, event.object.name)
            return [f"{event.type} {name}" if self.events else name]
        if fmt.template is not None:
            return [render_documents([event.object], output=fmt, single=True)]
        document = {"type": event.type, "object": event.object.wire()} if self.events else event.object.wire()
        if fmt.name == "json":
            return [to_json(document)]
        return ["---", to_yaml(document)]

    def _widths(self, rows: list[list[str]], headers: list[str]) -> list[int]:
        widths = column_widths(rows, headers)
        if self.events:  # every event type fits the EVENT column, not only those seen first
            widths[0] = max(widths[0], *(len(t) for t in EVENT_TYPES))
        return widths

    def _rows(self, events: list[WatchEvent], now: datetime) -> tuple[list[str], list[list[str]]]:
        headers, rows = resource_rows(
            [e.object for e in events], kind=self.kind, now=now, wide=self.output.name == "wide", show_namespace=self.show_namespace
        )
        if self.events:
            headers = ["EVENT", *headers]
            rows = [[e.type, *row] for e, row in zip(events, rows)]
        return headers, rows


def resume_from(version: str, event: WatchEvent) -> str:
    """Where to resume after `event`: its object's resourceVersion, else where we were (pure)."""
    return event.object.metadata.resource_version or version


@dataclass(frozen=True)
class WatchTarget:
    """What one `get -w` follows: a kind in a namespace (or all), by label, or one named object."""

    info: KindInfo
    namespace: str | None
    all_namespaces: bool = False
    selector: str | None = None
    name: str | None = None

    def listing(self, client: Client) -> tuple[list[Resource], str]:
        """What is printed first, and the resourceVersion the watch starts from. A named object
        must exist (as without -w; its not-found names where it does); its version is its own."""
        if self.name:
            obj = get_or_hint(client, self.info, self.name, self.namespace)
            return [obj], obj.metadata.resource_version or ""
        listed = client.list(self.info.kind, namespace=self.namespace, all_namespaces=self.all_namespaces, label_selector=self.selector)
        return listed.items, listed.resource_version


def follow(client: Client, target: WatchTarget, *, since: str) -> Iterator[WatchEvent]:
    """Every change after resourceVersion `since`, for as long as the caller reads: resumes a
    stream the server ended; after a 410 Gone lists again and yields those objects as MODIFIED
    before following on. Ends only by an error (the server went away) or the caller."""
    version = since
    while True:
        try:
            for event in client.watch(
                target.info.kind,
                namespace=target.namespace,
                all_namespaces=target.all_namespaces,
                label_selector=target.selector,
                field_selector=f"metadata.name={target.name}" if target.name else None,
                resource_version=version or None,
            ):
                version = resume_from(version, event)
                yield event
        except ApiError as e:
            if e.code != GONE:
                raise
            objects, version = target.listing(client)
            for obj in objects:
                yield WatchEvent("MODIFIED", obj)


def watch_command(
    client: Client, target: WatchTarget, *, output: OutputFormat, events: bool, listed: tuple[list[Resource], str]
) -> None:
    """Print the listed objects, then each change, until Ctrl-C (exit 0) or the server goes."""
    info = target.info
    printer = WatchPrinter(
        kind=info.kind, info=info, output=output, show_namespace=target.all_namespaces and info.namespaced, events=events
    )
    objects, since = listed
    nl = output.template is None
    try:
        for line in printer.initial(objects, datetime.now(UTC)):
            click.echo(line, nl=nl)
        for event in follow(client, target, since=since):
            for line in printer.event(event, datetime.now(UTC)):
                click.echo(line, nl=nl)
    except KeyboardInterrupt:
        return
