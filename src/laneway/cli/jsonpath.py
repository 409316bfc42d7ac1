"""kubectl's `-o jsonpath=TEMPLATE`: the template language around JSONPath, over jsonpath-ng.

kubectl's templates are text with `{...}` actions, not bare JSONPath: `{.items[*].metadata.name}`,
`{range .items[*]}{.metadata.name}{"\\t"}{.spec.replicas}{"\\n"}{end}`, `{.metadata.labels.app\\.x/y}`.
This module parses that layer (text, quoted literals, `range`/`end`, paths with kubectl's
escaped dots) into a small tree, and hands each path, rewritten to standard JSONPath, to
jsonpath-ng's extended parser (filters `[?(@.status.phase=="Running")]`, slices, unions,
recursive descent `..`). Evaluation follows kubectl's defaults: the results of one path are
joined by a space; strings print as they are and maps or lists as compact JSON; a key that is
missing prints nothing (kubectl's `--allow-missing-template-keys=true`). Inside `range`, a path
starting with `.` or `@` reads the current element and one starting with `$` the whole document.

What it does not do: kubectl's `{.a}{"text"}` inside `range` nesting works, but Go template
functions and `jsonpath-as-json` do not exist here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says where and what would fix it."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Path:
    source: str  # as the user wrote it, for messages
    absolute: bool  # `$...`: from the document's root even inside `range`
    compiled: JSONPath


@dataclass(frozen=True)
class Range:
    over: Path
    body: tuple[Node, ...]


Node: TypeAlias = Text | Path | Range



@dataclass(frozen=True)
class Template:
    """A parsed template; `render(document)` is pure."""

    source: str
    nodes: tuple[Node, ...]

    def render(self, document: JSONValue) -> str:
        return "".join(_render(self.nodes, root=document, current=document))


def parse_template(source: str) -> Template:
    """Parse `source`, raising TemplateError that names the position and the fix."""
    stack: list[tuple[Path | None, list[Node]]] = [(None, [])]
    for kind, text, at in _actions(source):
        if kind == "text":
            stack[-1][1].append(Text(text))
            continue
        action = text.strip()
        if action == "end":
            if len(stack) == 1:
                raise TemplateError(f"jsonpath template {source!r}: `{{end}}` at character {at} closes no `{{range}}`")
            over, body = stack.pop()
            assert over is not None
            stack[-1][1].append(Range(over=over, body=tuple(body)))
        elif action.startswith("range ") or action == "range":
            stack.append((_path(action.removeprefix("range").strip(), source, at), []))
        elif action[:1] in ('"', "'"):
            stack[-1][1].append(Text(_literal(action, source, at)))
        elif not action:
            raise TemplateError(f"jsonpath template {source!r}: empty `{{}}` at character {at}: write a path such as {{.metadata.name}}")
        else:
            stack[-1][1].append(_path(action, source, at))
    if len(stack) != 1:
        raise TemplateError(f"jsonpath template {source!r}: a `{{range ...}}` is not closed: end it with `{{end}}`")
    return Template(source=source, nodes=tuple(stack[0][1]))


def _actions(source: str) -> list[tuple[str, str, int]]:
    """The template cut into ("text", ...) and ("action", inside of {...}, position) pieces.
    Braces inside quotes (`{"}"}`, `[?(@.x=="}")]`) do not end an action."""
    pieces: list[tuple[str, str, int]] = []
    i, n = 0, len(source)
    text_start = 0
    while i < n:
        if source[i] != "{":
            i += 1
            continue
        if i > text_start:
            pieces.append(("text", source[text_start:i], text_start))
        start, i = i, _closing(source, i, "{", "}")
        if i < 0:
            raise TemplateError(f"jsonpath template {source!r}: the `{{` at character {start} is never closed: add `}}`")
        pieces.append(("action", source[start + 1 : i], start))
        i += 1
        text_start = i
    if text_start < n:
        pieces.append(("text", source[text_start:], text_start))
    return pieces


def _literal(action: str, source: str, at: int) -> str:
    """`{"\\n"}` or `{'\\t'}`: a quoted string with the usual escapes."""
    quote = action[0]
    if len(action) < 2 or action[-1] != quote:
        raise TemplateError(f"jsonpath template {source!r}: the string at character {at} is not closed with {quote}")
    inner = action[1:-1]
    if quote == "'":
        inner = inner.replace('\\"', '"').replace('"', '\\"').replace("\\'", "'")
    try:
        value = json.loads(f'"{inner}"')
    except json.JSONDecodeError:
        raise TemplateError(f"jsonpath template {source!r}: the string at character {at} has a bad escape (use \\n, \\t, \\\\)") from None
    assert isinstance(value, str)
    return value


def _path(text: str, source: str, at: int) -> Path:
    if not text:
        raise TemplateError(f"jsonpath template {source!r}: `{{range}}` at character {at} needs a path, e.g. {{range .items[*]}}")
    absolute = text.startswith("$")
    body = text[1:] if text[:1] in ("$", "@") else text
    if body and body[0] not in ".[":
        body = "." + body  # `{metadata.name}` reads as `{.metadata.name}`
    try:
        compiled = parse_jsonpath("$" + to_standard(body))
    except TemplateError as e:
        raise TemplateError(f"jsonpath template {source!r}: {e}") from None
    except (JsonPathLexerError, JsonPathParserError, Exception) as e:  # jsonpath-ng's lexer raises a bare Exception too
        raise TemplateError(
            f"jsonpath template {source!r}: cannot parse the path {text!r} at character {at} ({e}); "
            "paths read like {.items[*].metadata.name} or {.items[?(@.status.phase==\"Ready\")].metadata.name}"
        ) from None
    return Path(source=text, absolute=absolute, compiled=compiled)


def to_standard(body: str) -> str:
    """kubectl's path syntax to jsonpath-ng's: field names become quoted (so `app.kubernetes.io/name`
    written as `app\\.kubernetes\\.io/name`, names with `-` or `/`, and jsonpath-ng's keywords all
    work), `..` and `[...]` pass through. Pure."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "[":
            end = _bracket_end(body, i)
            out.append(body[i : end + 1])
            i = end + 1
        elif c == ".":
            if body[i + 1 : i + 2] == ".":
                out.append("..")
                i += 2
            else:
                i += 1
            name, i = _name(body, i)
            if name:
                out.append(_field(name) if out and out[-1] == ".." else "." + _field(name))
            elif not out or out[-1] != "..":
                continue  # a trailing `.` (`{.}`): the current node itself
        else:
            name, i = _name(body, i)
            out.append("." + _field(name))
    return "".join(out)


def _field(name: str) -> str:
    if name == "*":
        return "*"
    return json.dumps(name, ensure_ascii=False)


def _name(body: str, i: int) -> tuple[str, int]:
    """A field name from position i: up to an unescaped `.` or a `[`; `\\.` is a literal dot."""
    chars: list[str] = []
    n = len(body)
    while i < n and body[i] not in ".[":
        if body[i] == "\\" and i + 1 < n:
            chars.append(body[i + 1])
            i += 2
            continue
        chars.append(body[i])
        i += 1
    return "".join(chars), i


def _bracket_end(body: str, start: int) -> int:
    end = _closing(body, start, "[", "]")
    if end < 0:
        raise TemplateError(f"the path {body!r} opens a `[` that is never closed: add `]`")
    return end


def _closing(text: str, start: int, opener: str, closer: str) -> int:
    """The index of the `closer` that matches the `opener` at `start`, skipping quoted strings
    (`{"}"}`, `[?(@.x=="]")]`); -1 when there is none."""
    depth, quote, i = 0, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in ('"', "'"):
            quote = c
        elif c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _matches(path: Path, *, root: JSONValue, current: JSONValue) -> list[JSONValue]:
    return [m.value for m in path.compiled.find(root if path.absolute else current)]


def _render(nodes: Sequence[Node], *, root: JSONValue, current: JSONValue) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Path):
            out.append(" ".join(format_value(v) for v in _matches(node, root=root, current=current)))
        else:
            found = _matches(node.over, root=root, current=current)
            elements = found[0] if len(found) == 1 and isinstance(found[0], list) else found
            for element in elements:
                out.extend(_render(node.body, root=root, current=element))
    return out


def format_value(value: JSONValue) -> str:
    """One value as kubectl prints it: strings as they are, maps and lists as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
