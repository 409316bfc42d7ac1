"""`laneway explain`'s reading of the OpenAPI document: a field path resolved through the kinds'
schemas, and the text kubectl's `explain` prints for it (pure functions over the document).

The schemas are the ones the API server publishes at `/openapi/v3` (`laneway.server.openapi`),
built from the kinds' pydantic models, so what `explain` says a field takes is what the server
validates. A path walks object properties; arrays and maps are stepped through transparently
(`md.spec.template.spec.engines.members` explains one member), as kubectl does. A type reads
`<integer>`, `<string>`, `<[]Engine>`, `<map[string]string>`, or the component's name for an
object; constraints (required, default, allowed values, bounds, pattern) follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]
FieldDocs = Mapping[str, Mapping[str, str]]
"""Component name -> field name -> what the field means (`laneway.cli.field_docs`)."""
NO_DOCS: FieldDocs = {}
REF_PREFIX = "#/components/schemas/"
INDENT = "  "


class UnknownField(LookupError):
    """A path step that names no field; the message lists the fields that exist there."""


@dataclass(frozen=True)
class Explained:
    """One resolved field: its path, schema (references and `X | None` unwrapped), whether its
    parent requires it, and the description of the field or of the model it names."""

    path: tuple[str, ...]
    schema: Schema
    required: bool
    description: str


def _component(document: Schema, ref: str) -> tuple[str, Schema]:
    name = ref.removeprefix(REF_PREFIX)
    schema = document.get("components", {}).get("schemas", {}).get(name)
    if not isinstance(schema, Mapping):
        raise UnknownField(f"the OpenAPI document has no schema {name!r}")
    return name, schema


def unwrap(document: Schema, schema: Schema) -> Schema:
    """The schema a value actually takes: `$ref` followed, `anyOf [X, null]` read as X (keeping
    the field's own default and description)."""
    own = {k: v for k, v in schema.items() if k in ("default", "description", "title")}
    if "$ref" in schema:
        _, target = _component(document, str(schema["$ref"]))
        return {**target, **{k: v for k, v in own.items() if k != "title"}}
    options = [o for o in schema.get("anyOf", []) if isinstance(o, Mapping) and o.get("type") != "null"]
    if len(options) == 1:
        inner = unwrap(document, options[0])
        merged = {**inner, **{k: v for k, v in schema.items() if k != "anyOf"}}
        return {**merged, **({"title": inner["title"]} if "title" in inner else {})}
    return schema


def type_name(document: Schema, schema: Schema) -> str:
    """How a field's type reads: `integer`, `[]Engine`, `map[string]string`, `ModelDeploymentSpec`."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(REF_PREFIX)
    options = [o for o in schema.get("anyOf", []) if isinstance(o, Mapping) and o.get("type") != "null"]
    if options:
        return " | ".join(type_name(document, o) for o in options)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return "[]" + (type_name(document, items) if isinstance(items, Mapping) else "Object")
    if kind == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and "properties" not in schema:
            return "map[string]" + type_name(document, extra)
        return str(schema.get("title") or "Object") if "properties" in schema else "Object"
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind if k != "null")
    if kind:
        return str(kind)
    if "enum" in schema or "const" in schema:
        return "string"
    return "Object"


def constraints(schema: Schema) -> list[str]:
    """What a value must be, in words: allowed values, bounds, default, pattern (pure)."""
    out: list[str] = []
    if "enum" in schema:
        out.append("one of: " + ", ".join(str(v) for v in schema["enum"]))
    if "const" in schema:
        out.append(f"always {schema['const']}")
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None or high is not None:
        left = "(" if "exclusiveMinimum" in schema else "["
        right = ")" if "exclusiveMaximum" in schema else "]"
        out.append(f"range {left}{'' if low is None else low}, {'' if high is None else high}{right}")
    for key, words in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                       ("minItems", "at least {} items"), ("maxItems", "at most {} items")):
        if key in schema:
            out.append(words.format(schema[key]))
    if "pattern" in schema:
        out.append(f"matches {schema['pattern']}")
    if "default" in schema and schema["default"] not in (None, [], {}):
        out.append(f"default {_plain(schema['default'])}")
    return out


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _step_into(document: Schema, schema: Schema) -> Schema:
    """Through arrays and maps to the object whose fields a path names next."""
    current = unwrap(document, schema)
    for _ in range(8):  # arrays of arrays, maps of lists: a few levels at most
        if current.get("type") == "array" and isinstance(current.get("items"), Mapping):
            current = unwrap(document, current["items"])
        elif "properties" not in current and isinstance(current.get("additionalProperties"), Mapping):
            current = unwrap(document, current["additionalProperties"])
        else:
            break
    return current


def _properties(schema: Schema) -> Mapping[str, Schema]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def field_doc(docs: FieldDocs, parent: Schema, name: str) -> str:
    """What `name` means in the object `parent` (its component's title is the model's name)."""
    return docs.get(str(parent.get("title") or ""), {}).get(name, "")


def resolve(document: Schema, kind: str, path: list[str], docs: FieldDocs = NO_DOCS) -> Explained:
    """The field at `path` under kind `kind` (an empty path is the kind itself). Raises
    UnknownField naming the fields that exist where the path went wrong. A field's description
    is its own docstring (`docs`), else the description of the model it names."""
    _, root = _component(document, REF_PREFIX + kind)
    schema: Schema = root
    required = True
    description = str(root.get("description") or "")
    walked: list[str] = []
    for step in path:
        parent = _step_into(document, schema)
        fields = _properties(parent)
        if step not in fields:
            where = ".".join([kind, *walked])
            known = ", ".join(fields) if fields else "none: it is a value, not an object"
            raise UnknownField(f"field {step!r} does not exist in {where}; its fields are: {known}")
        required = step in (parent.get("required") or [])
        schema = fields[step]
        walked.append(step)
        own = field_doc(docs, parent, step)
        named = str(unwrap(document, schema).get("description") or schema.get("description") or "")
        description = f"{own}\n\n{named}" if own and named and named != own else (own or named)
    return Explained(path=tuple(walked), schema=schema, required=required, description=description)


def field_line(document: Schema, name: str, schema: Schema, *, required: bool) -> str:
    """`  name\t<type> -required-  (constraints)` as one line of FIELDS."""
    shown = unwrap(document, schema)
    text = f"{name}\t<{type_name(document, schema)}>"
    if required:
        text += " -required-"
    said = constraints(shown)
    if said:
        text += "  (" + "; ".join(said) + ")"
    return text


def explain_text(
    document: Schema,
    *,
    kind: str,
    api_version: str,
    path: list[str],
    recursive: bool = False,
    summary: str = "",
    see: str = "",
    docs: FieldDocs = NO_DOCS,
) -> str:
    """What `laneway explain KIND[.path]` prints. `summary` describes the kind when the schema
    has no description of its own; `see` names where the fields are documented in prose;
    `docs` are the fields' own docstrings."""
    found = resolve(document, kind, path, docs)
    lines = [f"KIND:       {kind}", f"VERSION:    {api_version}"]
    if path:
        lines += ["", f"FIELD: {'.'.join(path)} <{type_name(document, found.schema)}>"]
    description = found.description or (summary if not path else "")
    if description:
        lines += ["", "DESCRIPTION:"]
        lines += [INDENT * 2 + line.strip() if line.strip() else "" for line in description.strip().splitlines()]
    shown = unwrap(document, found.schema)
    said = constraints(shown)
    if said and path:
        lines += ["", "CONSTRAINTS:", *(INDENT * 2 + c for c in said)]
    target = _step_into(document, found.schema)
    fields = _properties(target)
    if fields:
        lines += ["", "FIELDS:"]
        lines += _field_lines(document, target, depth=1, recursive=recursive, seen=frozenset(), docs=docs)
    if see:
        lines += ["", f"See {see} for what each field means."]
    return "\n".join(lines)


def _field_lines(
    document: Schema, schema: Schema, *, depth: int, recursive: bool, seen: frozenset[str], docs: FieldDocs
) -> list[str]:
    out: list[str] = []
    required = set(schema.get("required") or [])
    for name, sub in _properties(schema).items():
        out.append(INDENT * depth + field_line(document, name, sub, required=name in required))
        if not recursive:
            description = field_doc(docs, schema, name) or str(sub.get("description") or "")
            out += [INDENT * (depth + 1) + line.strip() for line in description.strip().splitlines() if line.strip()]
            continue
        inner = _step_into(document, sub)
        title = str(inner.get("title") or "")
        if _properties(inner) and title not in seen:  # a model that contains itself is shown once
            out += _field_lines(document, inner, depth=depth + 1, recursive=True, seen=seen | {title}, docs=docs)
    return out
