"""Reading manifests: YAML or JSON documents into typed, validated resources.

Modelplane's own manifests apply unchanged: `apiVersion: modelplane.ai/v1alpha1` and
`modelplane.ai/` label and annotation keys are read as their laneway equivalents.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from laneway.api.errors import FieldProblem, InvalidManifests, InvalidObject
from laneway.api.meta import GROUP_VERSION, LABEL_PREFIX, MODELPLANE_GROUP, MODELPLANE_LABEL_PREFIX
from laneway.api.registry import UnknownKind, by_kind

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def _translate_keys(mapping: Any) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return {
        (LABEL_PREFIX + k[len(MODELPLANE_LABEL_PREFIX):] if isinstance(k, str) and k.startswith(MODELPLANE_LABEL_PREFIX) else k): v
        for k, v in mapping.items()
    }


def _translate_labels_everywhere(node: Any) -> Any:
    """Label maps appear at many depths (metadata, template metadata, selectors); translate them all."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("labels", "annotations", "matchLabels") and isinstance(v, dict):
                out[k] = _translate_keys(v)
            elif k == "matchExpressions" and isinstance(v, list):
                out[k] = [
                    {**e, "key": LABEL_PREFIX + e["key"][len(MODELPLANE_LABEL_PREFIX):]}
                    if isinstance(e, dict) and isinstance(e.get("key"), str) and e["key"].startswith(MODELPLANE_LABEL_PREFIX)
                    else _translate_labels_everywhere(e)
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
    return _translate_labels_everywhere(doc)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.startswith("function-after") or part in ("function-before",):
            continue
        else:
            path += ("." if path else "") + str(part)
    return path


def problems_from(error: ValidationError) -> list[FieldProblem]:
    out = []
    for e in error.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            msg = "unknown field; check its spelling against the kind's reference in docs/"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "literal_error":
            msg = f"{msg} (got {e.get('input')!r})"
        out.append(FieldProblem(_loc_to_path(loc), msg))
    return out


def parse_object(document: Any, *, source: str | None = None, index: int | None = None):
    """One document to its typed resource, or InvalidObject naming every problem."""
    if not isinstance(document, dict):
        raise InvalidObject(
            [FieldProblem("", f"expected a mapping with apiVersion, kind, metadata; got {type(document).__name__}")],
            source=source,
            document=index,
        )
    doc = translate_modelplane(document)
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
    if not isinstance(kind, str) or not kind:
        raise InvalidObject([FieldProblem("kind", "required field is missing")], source=source, document=index, name=name)
    try:
        info = by_kind(kind)
    except UnknownKind as e:
        raise InvalidObject([FieldProblem("kind", str(e))], kind=kind, name=name, source=source, document=index) from None
    if doc.get("apiVersion") != info.api_version:
        raise InvalidObject(
            [FieldProblem("apiVersion", f"{doc.get('apiVersion')!r} is not served for {kind}; use {info.api_version!r}")],
            kind=kind,
            name=name,
            source=source,
            document=index,
        )
    try:
        return info.parse(doc)
    except ValidationError as e:
        raise InvalidObject(problems_from(e), kind=kind, name=name, source=source, document=index) from None


def _documents(text: str, source: str) -> Iterable[tuple[int, Any]]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidObject([FieldProblem("", f"not valid YAML{where}: {getattr(e, 'problem', None) or e}")], source=source) from None
    index = 0
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                yield index, item
                index += 1
        else:
            yield index, doc
            index += 1


def _files(path: str) -> list[tuple[str, str]]:
    if path == "-":
        return [("<stdin>", sys.stdin.read())]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in MANIFEST_SUFFIXES)
        return [(str(f), f.read_text()) for f in files]
    if not p.exists():
        raise InvalidObject([FieldProblem("", "no such file or directory")], source=path)
    return [(path, p.read_text())]


def load_paths(paths: Iterable[str]):
    """Every resource in files, directories (recursively, *.yaml/*.yml/*.json) and '-' (stdin).
    Raises InvalidManifests with every problem found, so one run reports them all."""
    resources = []
    errors: list[InvalidObject] = []
    for path in paths:
        try:
            files = _files(path)
        except InvalidObject as e:
            errors.append(e)
            continue
        for source, text in files:
            try:
                for index, doc in _documents(text, source):
                    try:
                        resources.append(parse_object(doc, source=source, index=index))
                    except InvalidObject as e:
                        errors.append(e)
            except InvalidObject as e:
                errors.append(e)
    if errors:
        raise InvalidManifests(errors)
    return resources
