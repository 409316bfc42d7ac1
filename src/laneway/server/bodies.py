"""Request bodies into typed objects, and typed objects into response bodies.

Reading: JSON (or YAML, as Kubernetes accepts) into a document; the URL's namespace fills an
absent `metadata.namespace` and must equal a present one; `laneway.api.manifest.parse_object`
validates (Modelplane's group and label keys included). Writing: every object leaves through
`outgoing`, which redacts Secrets, so no response path can forget to.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from laneway.api.errors import FieldProblem, InvalidObject
from laneway.api.kinds.secret import REDACTED, Secret
from laneway.api.manifest import load_document, parse_object
from laneway.api.meta import Resource
from laneway.api.shape import TOO_DEEP_MESSAGE, data_problem
from laneway.server.context import body_timeout_of
from laneway.server.errors import (
    ApiError,
    Cause,
    bad_request,
    invalid,
    unsupported_media_type,
)
from laneway.server.targets import Target

JSON_TYPES = frozenset({"application/json", ""})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
MERGE_PATCH_TYPE = "application/merge-patch+json"
SERVER_SET_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp")
MAX_BODY_NODES = 100_000
"""Nodes in one request body. One object never comes near it (a large ModelDeployment is a
few hundred); the bound keeps validation of any accepted body to milliseconds, so a body
cannot hold the event loop that also answers `/healthz` and, under `laneway up`, the gateway."""


async def read_raw(request: web.Request) -> bytes:
    """The request's bytes, within the server's body timeout: a client that trickles its body
    (slowloris) gets a 408 and its connection closed instead of holding it open."""
    timeout = body_timeout_of(request)
    try:
        return await asyncio.wait_for(request.read(), timeout)
    except TimeoutError:
        raise ApiError(
            408, "Timeout", f"the request body did not arrive within {timeout:g} s; send the whole body at once"
        ) from None


async def read_body(request: web.Request, *, patch: bool = False) -> Any:
    """The request's document. A PATCH must say `application/merge-patch+json`."""
    content_type = request.content_type if "Content-Type" in request.headers else ""
    raw = await read_raw(request)
    if patch:
        if content_type != MERGE_PATCH_TYPE:
            raise unsupported_media_type(
                f"PATCH body type {content_type or 'unset'!r} is not supported: send a JSON merge patch (RFC 7386) "
                f"with Content-Type: {MERGE_PATCH_TYPE}"
            )
    elif content_type not in JSON_TYPES and content_type not in YAML_TYPES:
        raise unsupported_media_type(
            f"body type {content_type!r} is not supported: send application/json or application/yaml"
        )
    if not raw.strip():
        raise bad_request("the request has no body: send the object as JSON")
    # Decoding and the shape check run on a worker thread: whatever a body holds, the loop
    # keeps answering other requests while it is read and, if hostile, refused.
    return await asyncio.to_thread(decode_body, raw, yaml_body=content_type in YAML_TYPES)


def decode_body(raw: bytes, *, yaml_body: bool, max_nodes: int = MAX_BODY_NODES) -> Any:
    """The document of a request body, or a 400 saying why it is refused: not JSON/YAML, or a
    shape out of bounds (too deep, too many nodes, YAML aliases that amplify it)."""
    if yaml_body:
        try:
            return load_document(raw, source="the body", max_nodes=max_nodes)
        except InvalidObject as e:
            raise bad_request(f"the body {_without_subject(e.problems[0].message)}") from None
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8 text: send the object as JSON") from None
    except json.JSONDecodeError as e:
        raise bad_request(f"the body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise bad_request(f"the body {_without_subject(TOO_DEEP_MESSAGE)}") from None
    problem = data_problem(document, max_nodes=max_nodes)
    if problem is not None:
        raise bad_request(f"the body {_without_subject(problem)}")
    return document


def _without_subject(message: str) -> str:
    """'the document is nested ...' as 'is nested ...', to follow 'the body'."""
    if message.startswith("the document "):
        return message[len("the document "):]
    return f"is {message}"


def require_mapping(document: Any, what: str = "the body") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise bad_request(f"{what} must be a JSON object with apiVersion, kind, metadata; got {type(document).__name__}")
    return document


def refuse_null_metadata(document: dict[str, Any], kind: str) -> None:
    """`"metadata": null` would remove the object's metadata whole (its finalizers and
    laneway's annotations with it): a 422, in a body or in a merge patch."""
    if "metadata" in document and document["metadata"] is None:
        raise invalid(kind, None, [FieldProblem(
            "metadata", "must be an object; null would remove the object's metadata: patch the fields to change instead"
        )])


def _meta(document: dict[str, Any]) -> dict[str, Any]:
    refuse_null_metadata(document, str(document.get("kind") or "object"))
    metadata = document.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise invalid(str(document.get("kind") or "object"), None, [FieldProblem("metadata", "must be an object")])
    return dict(metadata)


def fit_to_target(document: dict[str, Any], target: Target, *, creating: bool) -> dict[str, Any]:
    """A copy of `document` whose kind, name and namespace agree with the URL.

    Fills apiVersion, kind and a namespaced kind's namespace when absent; refuses a name or
    namespace that differs from the URL's; on create, drops the fields the store assigns."""
    info = target.kind
    doc = dict(document)
    doc.setdefault("apiVersion", info.api_version)
    doc.setdefault("kind", info.kind)
    if doc["kind"] != info.kind:
        raise bad_request(
            f"the body is a {doc['kind']!r} but the URL addresses {info.plural}: send it to the {doc['kind']} collection",
            causes=[Cause("kind", f"expected {info.kind!r}")],
        )
    meta = _meta(doc)
    for key in ("name", "namespace"):
        if key in meta and meta[key] is None:
            del meta[key]  # null is absent, as Kubernetes reads it: the URL fills it
    if target.name is not None:
        body_name = meta.setdefault("name", target.name)
        if body_name != target.name:
            raise bad_request(
                f"the name of the object ({body_name!r}) does not match the name in the URL ({target.name!r})",
                causes=[Cause("metadata.name", f"expected {target.name!r}")],
            )
    if info.namespaced:
        body_ns = meta.setdefault("namespace", target.namespace)
        if body_ns != target.namespace:
            raise bad_request(
                f"the namespace of the object ({body_ns!r}) does not match the namespace in the URL "
                f"({target.namespace!r}): send it to that namespace's path or fix metadata.namespace",
                causes=[Cause("metadata.namespace", f"expected {target.namespace!r}")],
            )
    elif meta.get("namespace") not in (None, ""):
        raise invalid(
            info.kind,
            meta.get("name"),
            [FieldProblem("metadata.namespace", f"{info.kind} is cluster-scoped; remove metadata.namespace")],
        )
    else:
        meta.pop("namespace", None)
    if creating:
        # Dropped (the store assigns them), but only once they have their declared types: the
        # OpenAPI document declares them, and a body it calls invalid is refused, not ignored.
        dropped = {key: meta.pop(key) for key in SERVER_SET_METADATA if key in meta}
        wrong = [
            FieldProblem(f"metadata.{key}", "must be a whole number" if key == "generation" else "must be a string")
            for key, value in dropped.items()
            if value is not None and not (_is_whole(value) if key == "generation" else isinstance(value, str))
        ]
        if wrong:
            raise invalid(info.kind, meta.get("name") if isinstance(meta.get("name"), str) else None, wrong)
    doc["metadata"] = meta
    return doc


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_for(document: dict[str, Any], target: Target) -> Resource:
    """Validate `document` into the target's kind, or 422 with one cause per field problem."""
    try:
        obj = parse_object(document)
    except InvalidObject as e:
        raise invalid(e.kind or target.kind.kind, e.name, e.problems) from None
    if not isinstance(obj, target.kind.model):
        raise bad_request(f"the body is a {obj.kind!r} but the URL addresses {target.kind.plural}")
    return obj


async def validate(document: dict[str, Any], target: Target) -> Resource:
    """`parse_for` on a worker thread: validating a large (if bounded) body runs Python
    validators over every label and list item, which the event loop should not wait for."""
    return await asyncio.to_thread(parse_for, document, target)


def without_status(obj: Resource) -> Resource:
    """`obj` with its status reset: clients do not claim a status on create (controllers write it)."""
    field = type(obj).model_fields.get("status")
    if field is None or field.default_factory is None:
        return obj
    return obj.model_copy(update={"status": field.default_factory()})  # type: ignore[call-arg]


def restore_redacted(obj: Resource, existing: Resource | None) -> Resource:
    """A Secret written back as it was read keeps its values: `<redacted>` means "unchanged".

    A placeholder for a key the stored Secret lacks is refused: there is no value to keep."""
    if not isinstance(obj, Secret):
        return obj
    stored = existing.data if isinstance(existing, Secret) else {}
    missing = [k for k, v in obj.data.items() if v == REDACTED and k not in stored]
    if missing:
        raise invalid(
            "Secret",
            obj.name,
            [
                FieldProblem(f"data.{k}", f"{REDACTED!r} is a placeholder for a stored value, and none is stored; "
                             "send the value (base64 under data, or plain under stringData)")
                for k in missing
            ],
        )
    data = {k: (stored[k] if v == REDACTED else v) for k, v in obj.data.items()}
    return obj.model_copy(update={"data": data})


def outgoing(obj: Resource) -> dict[str, Any]:
    """The wire document of `obj` as a client may see it: Secrets redacted."""
    if isinstance(obj, Secret):
        document = obj.redacted().wire()
        document.pop("stringData", None)  # write-only, as in Kubernetes
        return document
    return obj.wire()
