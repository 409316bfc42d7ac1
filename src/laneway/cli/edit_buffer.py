"""The text `laneway edit` puts in the editor and what it makes of the text that comes back
(pure functions; the command in `laneway.cli.edit` does the I/O).

The buffer is the object as YAML under a comment header, as kubectl's is; after a refusal the
header also lists what was wrong, and the user's own text is kept below it so nothing typed is
lost. Only the leading comment block is removed on the way back: a `#` inside a block scalar
(a script, a CEL expression) is the user's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from laneway.cli.output import to_yaml

HEADER = (
    "# Edit the object below and save to apply it; lines starting with '#' at the top are ignored.\n"
    "# Save it unchanged, or empty it, to cancel. kind, apiVersion, name and namespace cannot change here.\n"
)


def buffer_text(body: str, problems: Sequence[str] = ()) -> str:
    """The editor's text: the header, the problems of the last save (if any), then `body`."""
    lines = [HEADER]
    if problems:
        lines.append("#\n# The last save was refused; fix what follows and save again:\n")
        for problem in problems:
            lines += [f"#   {line}\n" for line in problem.splitlines() if line.strip()]
    lines.append("#\n")
    return "".join(lines) + body


def document_text(document: Mapping[str, Any]) -> str:
    return to_yaml(dict(document)) + "\n"


def without_header(text: str) -> str:
    """The text minus its leading comment lines (and blank lines among them)."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (lines[i].lstrip().startswith("#") or not lines[i].strip()):
        i += 1
    return "".join(lines[i:])


@dataclass(frozen=True)
class Parsed:
    """What came back from the editor: a mapping, or why it is not one."""

    document: dict[str, Any] | None
    problem: str = ""


def parse_buffer(text: str) -> Parsed:
    body = without_header(text)
    try:
        document = yaml.safe_load(body) if body.strip() else None
    except yaml.YAMLError as e:
        return Parsed(None, f"not valid YAML: {e}")
    if document is None:
        return Parsed(None)
    if not isinstance(document, dict):
        return Parsed(None, f"the edited text must be one object (a YAML mapping), not a {type(document).__name__}")
    return Parsed(document)


def identity_changes(original: Mapping[str, Any], edited: Mapping[str, Any]) -> list[str]:
    """What the edit may not change, as messages: the kind, apiVersion, name and namespace say
    WHICH object is written, so changing them would write another object (pure)."""
    problems = []
    for path in (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")):
        before, after = _at(original, path), _at(edited, path)
        if before != after:
            field = ".".join(path)
            problems.append(
                f"{field} cannot be changed by edit (it was {before!r}, now {after!r}): edit writes the object it "
                "opened; to make another, save a copy and `laneway apply -f` it"
            )
    return problems


def only_status_changed(original: Mapping[str, Any], edited: Mapping[str, Any]) -> bool:
    """Whether the edit touched nothing but `status`, which laneway's controllers write and an
    update leaves as it is: such a save would change nothing, so it is not sent (pure)."""
    return {k: v for k, v in original.items() if k != "status"} == {k: v for k, v in edited.items() if k != "status"}


def _at(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
