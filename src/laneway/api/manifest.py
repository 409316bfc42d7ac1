"""Reading manifests: YAML or JSON documents into typed, validated resources.

Modelplane's own manifests apply unchanged: `apiVersion: modelplane.ai/v1alpha1` and
`modelplane.ai/` label and annotation keys are read as their laneway equivalents.

Every problem is located: the file, the document within it (1-based), the field path in the
manifest's own camelCase spelling (`spec.template.spec.engines[0].members[1].worker`) and,
for YAML, the line. Loading collects every problem of every document before refusing, so one
run of `laneway apply` shows all that needs fixing and nothing is half-applied.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from laneway.api.errors import FieldProblem, InvalidManifests, InvalidObject, RuleViolation
from laneway.api.meta import GROUP_VERSION, LABEL_PREFIX, MODELPLANE_GROUP, MODELPLANE_LABEL_PREFIX, Resource
from laneway.api.registry import UnknownKind, by_kind, lookup
from laneway.api.shape import MAX_DOCUMENT_NODES, MAX_NESTING, TOO_DEEP_MESSAGE, node_problem, too_many_nodes_message
from laneway.api.validation_messages import problem_message

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

if TYPE_CHECKING:
    Loader = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
else:  # PyYAML built without libyaml has no CSafeLoader to name at run time
    Loader = type
PURE_LOADER: Loader = yaml.SafeLoader
_C_OR_PURE: Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _no_path_resolvers(*_: object) -> None:
    """What PyYAML's descend/ascend_resolver do when no path resolver is registered."""


class _MemoLoader(_C_OR_PURE):  # type: ignore[misc,valid-type]
    """The safe loader, resolving each distinct scalar once per text.

    PyYAML asks `resolve` for the tag of every scalar (regular expressions over the value, in
    Python), and calls `descend_resolver`/`ascend_resolver` around every node even when no path
    resolver exists; on a fleet's manifests that is a quarter of libyaml's composing time,
    while most scalars are the same few keys and values again. The tag depends only on the
    node kind, the value and whether it was quoted, so one answer per distinct scalar is kept
    for the life of this loader (one text) and dropped by `dispose`: nothing a manifest held,
    such as a Secret's value, outlives its loading."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        if not self.yaml_path_resolvers:  # no resolver depends on the node's path: memoise
            self.__dict__.update(
                resolve=functools.lru_cache(maxsize=None)(functools.partial(yaml.resolver.BaseResolver.resolve, self)),
                descend_resolver=_no_path_resolvers,
                ascend_resolver=_no_path_resolvers,
            )

    def dispose(self) -> None:
        super().dispose()
        for name in ("resolve", "descend_resolver", "ascend_resolver"):  # the memo refers to self
            self.__dict__.pop(name, None)


FAST_LOADER: Loader = _MemoLoader
"""libyaml's C parser and composer where PyYAML was built with it (about ten times faster on
a fleet's manifests), else PyYAML's own, with scalar tags memoised (`_MemoLoader`). Both give
the same nodes, marks and data; libyaml also refuses nesting past 1,000 levels on its own,
long before a stack could run out."""


def _translate_key(key: Any) -> Any:
    if isinstance(key, str) and key.startswith(MODELPLANE_LABEL_PREFIX):
        return LABEL_PREFIX + key[len(MODELPLANE_LABEL_PREFIX):]
    return key


def _translate_keys(mapping: Any) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return {_translate_key(k): v for k, v in mapping.items()}


def _translate_labels_everywhere(node: Any) -> Any:
    """Label maps appear at many depths (metadata, template metadata, selectors); translate them all."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("labels", "annotations", "matchLabels") and isinstance(v, dict):
                out[k] = _translate_keys(v)
            elif k == "matchExpressions" and isinstance(v, list):
                out[k] = [
                    {**e, "key": _translate_key(e["key"])} if isinstance(e, dict) and "key" in e else _translate_labels_everywhere(e)
                    for e in v
                ]
            else:
                out[k] = _translate_labels_everywhere(v)
        return out
    if isinstance(node, list):
        return [_translate_labels_everywhere(v) for v in node]
    return node


def translate_modelplane(document: dict[str, Any]) -> dict[str, Any]:
    """Modelplane's group and label prefix, read as laneway's."""
    doc = dict(document)
    api_version = doc.get("apiVersion")
    if isinstance(api_version, str) and api_version.startswith(MODELPLANE_GROUP + "/"):
        doc["apiVersion"] = GROUP_VERSION.split("/")[0] + "/" + api_version.split("/", 1)[1]
    translated: dict[str, Any] = _translate_labels_everywhere(doc)
    return translated


def _path_part(part: Any, first: bool) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    text = str(part)
    if text and all(c.isalnum() or c in "_-" for c in text):
        return text if first else "." + text
    return f"[{text!r}]"


def format_path(loc: Iterable[Any]) -> str:
    """A pydantic location as the manifest spells it: `spec.engines[0].name`, `labels['a/b']`."""
    out = ""
    for part in loc:
        out += _path_part(part, not out)
    return out


def _is_tag(part: Any) -> bool:
    """Pydantic adds validator and union-member tags to locations; they are not fields."""
    return isinstance(part, str) and (
        part.startswith(("function-", "literal[", "lax-", "json-or-python", "tagged-union"))
        or part in ("str", "int", "float", "bool", "list", "dict")
        or ("[" in part and part.endswith("]") and not part.startswith("["))
    )


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    return format_path(p for p in loc if not _is_tag(p))


def _rule_subpath(at: str) -> list[Any]:
    """`members[1].worker` as location parts: ['members', 1, 'worker']."""
    parts: list[Any] = []
    for piece in at.replace("[", ".[").split("."):
        if not piece:
            continue
        if piece.startswith("[") and piece.endswith("]"):
            inner = piece[1:-1]
            parts.append(int(inner) if inner.isdigit() else inner.strip("'\""))
        else:
            parts.append(piece)
    return parts


def problems_from(error: ValidationError, *, model: type | None = None) -> list[FieldProblem]:
    """Readable, located problems from a pydantic error: the field path and what would be valid."""
    out: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for e in error.errors(include_url=False):
        loc = [p for p in e["loc"] if not _is_tag(p)]
        exc = (e.get("ctx") or {}).get("error")
        if isinstance(exc, RuleViolation) and exc.at:
            loc += _rule_subpath(exc.at)
        problem = FieldProblem(format_path(loc), problem_message(e, model=model, loc=loc))
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            out.append(problem)
    return out


def parse_object(
    document: Any, *, source: str | None = None, index: int | None = None, modelplane: bool = True
) -> Resource:
    """One document to its typed resource, or InvalidObject naming every problem.

    `modelplane=False` says the input cannot hold Modelplane's group or label prefix (its text
    never spells `modelplane.ai`), so the copy that translates them is skipped."""
    if not isinstance(document, dict):
        raise InvalidObject(
            [FieldProblem("", f"expected a mapping with apiVersion, kind, metadata and spec; got {_kind_of(document)}")],
            source=source,
            document=index,
        )
    doc = translate_modelplane(document) if modelplane else document
    kind = doc.get("kind")
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) and isinstance(metadata.get("name"), str) else None
    if not isinstance(kind, str) or not kind:
        raise InvalidObject(
            [FieldProblem("kind", "required field is missing; set it to the resource kind, e.g. kind: ModelDeployment")],
            source=source,
            document=index,
            name=name,
        )
    try:
        info = by_kind(kind)
    except UnknownKind as e:
        raise InvalidObject([FieldProblem("kind", _kind_problem(kind, e))], kind=kind, name=name, source=source, document=index) from None
    if doc.get("apiVersion") != info.api_version:
        got = doc.get("apiVersion")
        what = "is missing" if got is None else f"{got!r} is not served for {kind}"
        also = f" (or {MODELPLANE_GROUP}/v1alpha1)" if info.api_version == GROUP_VERSION else ""
        raise InvalidObject(
            [FieldProblem("apiVersion", f"{what}; use {info.api_version!r}{also}")],
            kind=kind,
            name=name,
            source=source,
            document=index,
        )
    try:
        return info.parse(doc)
    except ValidationError as e:
        raise InvalidObject(problems_from(e, model=info.model), kind=kind, name=name, source=source, document=index) from None


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return type(value).__name__


@dataclass(frozen=True)
class Document:
    """One YAML document: its index in the input (0-based), its data and its node (for lines)."""

    index: int
    data: Any
    node: yaml.Node | None


def _yaml_error(e: yaml.YAMLError, source: str, text: str | bytes) -> InvalidObject:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    if "maximum nesting depth" in str(problem):  # libyaml's own bound, past ours
        return InvalidObject([FieldProblem("", TOO_DEEP_MESSAGE)], source=source)
    detail = f"{context}, {problem}" if context else problem
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    hint = ""
    if "\\t" in detail or "\t" in detail or "tab" in detail.lower() or _tab_at(text, mark):
        hint = "; indent with spaces, not tabs"
    elif "mapping values are not allowed" in detail:
        hint = "; check the indentation and quote values that contain ': '"
    # The message names the line and column itself, so the problem carries no separate line
    # (which would print it twice).
    return InvalidObject([FieldProblem("", f"not valid YAML{where}: {detail}{hint}")], source=source)


def _tab_at(text: str | bytes, mark: yaml.Mark | None) -> bool:
    """Whether the line of `mark` starts with a tab up to the mark (PyYAML names the tab in its
    message; libyaml only says the character cannot start a token)."""
    if mark is None:
        return False
    lines = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).split("\n")
    return mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]


_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"


class _NotPlain(Exception):
    """A node the plain builder leaves to PyYAML's constructor (merge keys, explicit tags)."""


class _ShapeRefused(Exception):
    """The document is out of the shape bounds (`laneway.api.shape`); the message says how."""


def construct(parser: yaml.SafeLoader | yaml.CSafeLoader, node: yaml.Node, *, max_nodes: int = MAX_DOCUMENT_NODES) -> Any:
    """The data of a document within the shape bounds (`laneway.api.shape`), else
    `_ShapeRefused`.

    The plain mappings, sequences and strings manifests are made of are built directly (the
    bulk of the cost of PyYAML's generic constructor), counting nodes and depth as they go, so
    an alias-free document is checked and built in one walk, which never nests deeper than
    the bound. Everything else (numbers, booleans, null, dates are PyYAML's own scalars; merge
    keys, aliases and explicit tags stop the walk) is left to PyYAML's safe constructor, and a
    document with aliases or tags is first checked as a graph by `node_problem`, before anything
    of it is expanded; either way the result is what PyYAML builds."""
    walk = _Plain(parser, max_nodes)
    try:
        data = walk.build(node, 1)
        if walk.nodes > max_nodes:  # the checks on the way stop early; this one is exact
            raise _ShapeRefused(too_many_nodes_message(max_nodes))
        return data
    except _NotPlain:
        pass
    finally:
        parser.constructed_objects = {}
    problem = node_problem(node, max_nodes=max_nodes)
    if problem is not None:
        raise _ShapeRefused(problem)
    try:
        return parser.construct_document(node)
    finally:
        parser.constructed_objects = {}


class _Plain:
    """One walk of `construct`: the data, the nodes met so far and the bounds."""

    __slots__ = ("max_nodes", "nodes", "parser", "seen")

    def __init__(self, parser: yaml.SafeLoader | yaml.CSafeLoader, max_nodes: int) -> None:
        self.parser = parser
        self.seen = parser.constructed_objects
        self.max_nodes = max_nodes
        self.nodes = 0

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.nodes += 1  # every node once, as `node_problem` counts them (keys below)
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return self.parser.construct_object(node)
        if id(node) in self.seen:  # an alias: the graph check and PyYAML's sharing semantics
            raise _NotPlain
        self.seen[id(node)] = None
        if depth > MAX_NESTING:
            raise _ShapeRefused(TOO_DEEP_MESSAGE)
        children = node.value
        if self.nodes + len(children) > self.max_nodes:
            raise _ShapeRefused(too_many_nodes_message(self.max_nodes))
        depth += 1
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return [self.build(child, depth) for child in children]
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            self.nodes += len(children)  # the keys, built here rather than by `build`
            out: dict[Any, Any] = {}
            for key_node, value_node in children:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    raise _NotPlain
                out[key_node.value if key_node.tag == _STR_TAG else self.parser.construct_object(key_node)] = self.build(value_node, depth)
            return out
        raise _NotPlain


def iter_documents(
    text: str | bytes, source: str, *, loader: Loader = FAST_LOADER, max_nodes: int = MAX_DOCUMENT_NODES
) -> Iterator[Document]:
    """Every non-empty document of a (multi-document) YAML or JSON text; a `kind: List`
    document yields its items. Raises InvalidObject, with the line, on broken YAML, and
    before building it, on a document whose shape is out of bounds (see laneway.api.shape)."""
    parser = loader(text)
    index = 0
    try:
        while parser.check_node():
            node = parser.get_node()
            if node is None:
                continue
            try:
                data = construct(parser, node, max_nodes=max_nodes)
            except _ShapeRefused as refused:
                raise InvalidObject([FieldProblem("", str(refused))], source=source, document=index) from None
            if data is None:
                continue
            if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
                items_node = _child(node, "items")
                for i, item in enumerate(data["items"]):
                    yield Document(index, item, _child(items_node, i))
                    index += 1
            else:
                yield Document(index, data, node)
                index += 1
    except yaml.YAMLError as e:
        raise _yaml_error(e, source, text) from None
    except RecursionError:  # PyYAML's pure composer recurses; libyaml stops at its own bound first
        raise InvalidObject([FieldProblem("", TOO_DEEP_MESSAGE)], source=source, document=index) from None
    finally:
        parser.dispose()


def load_document(text: str | bytes, *, source: str, max_nodes: int, loader: Loader = FAST_LOADER) -> Any:
    """The single document of a YAML (or JSON) text, within the shape bounds; None when empty.

    Raises InvalidObject (broken YAML, a shape out of bounds, or more than one document)."""
    parser = loader(text)
    try:
        node = parser.get_single_node()
        if node is None:
            return None
        try:
            return construct(parser, node, max_nodes=max_nodes)
        except _ShapeRefused as refused:
            raise InvalidObject([FieldProblem("", str(refused))], source=source) from None
    except yaml.YAMLError as e:
        raise _yaml_error(e, source, text) from None
    except RecursionError:
        raise InvalidObject([FieldProblem("", TOO_DEEP_MESSAGE)], source=source) from None
    finally:
        parser.dispose()


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and (key.value == part or _translate_key(key.value) == part):
                return value if isinstance(value, yaml.Node) else None
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item if isinstance(item, yaml.Node) else None
    return None


def line_of(node: yaml.Node | None, path: list[Any]) -> int | None:
    """The 1-based line of the deepest part of `path` present in the document (a missing
    field points at the object that should hold it)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        node = _child(node, part)
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _with_lines(error: InvalidObject, node: yaml.Node | None) -> InvalidObject:
    if node is None:
        return error
    error.problems = [
        FieldProblem(p.path, p.message, p.line if p.line is not None else line_of(node, _rule_subpath(p.path)))
        for p in error.problems
    ]
    return error


def _files(path: str) -> list[tuple[str, str]]:
    if path == "-":
        return [("<stdin>", sys.stdin.read())]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise InvalidObject(
                [FieldProblem("", f"directory holds no manifests (files ending {', '.join(MANIFEST_SUFFIXES)})")], source=path
            )
        return [(str(f), _read(f)) for f in files]
    if not p.exists():
        raise InvalidObject([FieldProblem("", "no such file or directory")], source=path)
    return [(path, _read(p))]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidObject([FieldProblem("", "not a text file (expected UTF-8 YAML or JSON)")], source=str(path)) from None
    except OSError as e:
        raise InvalidObject([FieldProblem("", f"cannot read: {e.strerror or e}")], source=str(path)) from None


def load_text(text: str, *, source: str = "<input>", loader: Loader = FAST_LOADER) -> list[Resource]:
    """Every resource in one YAML/JSON text. Raises InvalidManifests with every problem found."""
    resources: list[Resource] = []
    errors: list[InvalidObject] = []
    _load_into(text, source, resources, errors, loader)
    if errors:
        raise InvalidManifests(errors)
    return resources


def _load_into(
    text: str, source: str, resources: list[Resource], errors: list[InvalidObject], loader: Loader = FAST_LOADER
) -> None:
    modelplane = MODELPLANE_GROUP in text
    try:
        for doc in iter_documents(text, source, loader=loader):
            try:
                resources.append(parse_object(doc.data, source=source, index=doc.index, modelplane=modelplane))
            except InvalidObject as e:
                errors.append(_with_lines(e, doc.node))
    except InvalidObject as e:
        errors.append(e)


def load_paths(paths: Iterable[str], *, loader: Loader = FAST_LOADER) -> list[Resource]:
    """Every resource in files, directories (recursively, *.yaml/*.yml/*.json) and '-' (stdin).
    Raises InvalidManifests with every problem found, so one run reports them all."""
    resources: list[Resource] = []
    errors: list[InvalidObject] = []
    for path in paths:
        try:
            files = _files(path)
        except InvalidObject as e:
            errors.append(e)
            continue
        for source, text in files:
            _load_into(text, source, resources, errors, loader)
    if errors:
        raise InvalidManifests(errors)
    return resources


def _kind_problem(kind: str, error: UnknownKind) -> str:
    """An unknown manifest kind; a wrong case (`modeldeployment`) gets the exact spelling, since the
    kinds a manifest names are case-sensitive (only the command line accepts `md` or `modeldeployment`)."""
    try:
        exact = lookup(kind).kind
    except UnknownKind:
        return str(error)
    return f"unknown kind {kind!r}: a manifest's kind is case-sensitive; write kind: {exact}"
