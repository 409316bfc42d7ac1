"""The OpenAPI 3.1 document of the API, generated from what the server enforces.

Nothing here restates a rule by hand where the rule lives elsewhere: object schemas are the
kinds' pydantic models (`model_json_schema`, validation mode: the document describes what a
client may send, and every object the server answers is one it would accept back); names
and namespaces carry `DNS1123_LABEL_PATTERN`, label maps the label key and value patterns,
`labelSelector` and `fieldSelector` the selector grammar the parser checks, `watch` the exact
values `resources.WATCH_VALUES` reads. Errors are Status documents, declared per response
code with the reasons the server gives for it. `tests/integration/server/test_server_openapi_fuzz.py`
runs schemathesis against a real server to keep the document and the server in step.

Some rules are beyond JSON Schema and are stated in words on the operation instead: on PUT
the body's name and namespace must equal the URL's (a 400 otherwise); cross-field rules of a
kind (a DRA device needs a deviceClassName, CEL selectors compile) are answered 422 with one
cause per field. Built once per process and cached.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic.json_schema import models_json_schema

import laneway
from laneway.api.kinds.common import DURATION_PATTERN
from laneway.api.meta import API_VERSION, GROUP_VERSION, MODELPLANE_GROUP, dns1123_label_schema
from laneway.api.registry import KINDS, KindInfo
from laneway.api.selectors import LABEL_SELECTOR_PATTERN, selector_pattern
from laneway.server.auth import ROLES
from laneway.server.bodies import JSON_TYPES, MERGE_PATCH_TYPE, YAML_TYPES
from laneway.server.resources import LIST_PARAMETERS, MAX_INT_PARAM, WATCH_VALUES
from laneway.server.scale import MAX_REPLICAS, SCALE_API_VERSION
from laneway.server.targets import CORE_VERSION, SUBRESOURCES, collection_path
from laneway.server.watching import WATCH_CONTENT_TYPE

REF = "#/components/schemas/{model}"
STATUS = "v1.Status"
"""The error document's component name: `Status` is taken by the kinds' common status model."""
Schema = dict[str, Any]

REASONS: dict[int, tuple[str, ...]] = {
    400: ("BadRequest",),
    401: ("Unauthorized",),
    403: ("Forbidden",),
    404: ("NotFound",),
    405: ("MethodNotAllowed",),
    408: ("Timeout",),
    409: ("AlreadyExists", "Conflict"),
    410: ("Expired",),
    413: ("RequestEntityTooLarge",),
    415: ("UnsupportedMediaType",),
    422: ("Invalid",),
}
"""The Kubernetes reasons each refusal code carries (`errors.py`, the store's errors, the middleware)."""

ERROR_MEANINGS: dict[int, str] = {
    400: "the request is malformed: a path segment, a query parameter or the body; the message says which",
    401: "no bearer token, or one the server does not know (revoked, expired)",
    403: "the token's role or namespaces do not allow this; the message says which would",
    404: "no such object (or a name that cannot be one)",
    405: "the path does not serve this method; the Allow header lists those it does",
    408: "the body did not arrive in time",
    409: "the object exists already, changed since it was read (resourceVersion), or is in use",
    410: "watch: the resourceVersion is older than the history kept; list again",
    413: "the body is larger than 4 MiB",
    415: "the body's Content-Type is not one the operation reads",
    422: "the object is invalid: details.causes names each field and what is wrong with it",
}

_STATUS_SCHEMA: Schema = {
    "type": "object",
    "description": "A Kubernetes Status: every refusal the API answers.",
    "required": ["kind", "apiVersion", "metadata", "status", "message", "reason", "code"],
    "additionalProperties": False,
    "properties": {
        "kind": {"const": "Status"},
        "apiVersion": {"const": "v1"},
        "metadata": {"type": "object", "maxProperties": 0},
        "status": {"const": "Failure"},
        "message": {"type": "string", "minLength": 1},
        "reason": {"type": "string"},
        "code": {"type": "integer"},
        "details": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "causes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message", "reason"],
                        "additionalProperties": False,
                        "properties": {
                            "field": {"type": "string", "description": "dotted path of the field, e.g. spec.replicas"},
                            "message": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_SCALE_SCHEMA: Schema = {
    "type": "object",
    "description": f"{SCALE_API_VERSION} Scale: spec.replicas is the deployment's spec.replicas, "
    "status.replicas its status.replicas.total. On write only spec.replicas (and "
    "metadata.resourceVersion, a precondition) are read.",
    "required": ["spec"],
    "properties": {
        "kind": {"enum": ["Scale", None]},
        "apiVersion": {"enum": [SCALE_API_VERSION, None]},
        "metadata": {"type": ["object", "null"], "properties": {"resourceVersion": {"type": ["string", "null"]}}},
        "spec": {
            "type": "object",
            "required": ["replicas"],
            "properties": {"replicas": {"type": "integer", "minimum": 0, "maximum": MAX_REPLICAS}},
        },
        "status": {"type": ["object", "null"], "properties": {"replicas": {"type": "integer", "minimum": 0}}},
    },
}

_TTL_SCHEMA: Schema = {
    "type": ["string", "null"],
    "pattern": DURATION_PATTERN,
    "description": "lifetime, e.g. '12h' or '30d' (more than 0s, at most 3650d); absent or null: no expiry",
}

_TOKEN_REQUEST_SCHEMA: Schema = {
    "type": "object",
    "description": "A token's grant: a team token names its namespaces, an admin or platform token none.",
    "required": ["role"],
    "properties": {
        "role": {"enum": list(ROLES)},
        "namespaces": {"type": "array", "items": {"type": "string", **dns1123_label_schema()}},
        "description": {"type": "string"},
        "ttl": _TTL_SCHEMA,
    },
    "oneOf": [
        {"properties": {"role": {"const": "team"}, "namespaces": {"minItems": 1}}, "required": ["namespaces"]},
        {"properties": {"role": {"enum": [r for r in ROLES if r != "team"]}, "namespaces": {"maxItems": 0}}},
    ],
}

_TOKEN_GRANT_SCHEMA: Schema = {
    "type": "object",
    "description": "A token's grant and times, as a listing shows them: never the token itself.",
    "required": ["id", "role", "namespaces", "description", "created", "state"],
    "properties": {
        "id": {"type": "string"},
        "role": {"enum": list(ROLES)},
        "namespaces": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"},
        "created": {"type": "string"},
        "lastUsed": {"type": ["string", "null"]},
        "expires": {"type": ["string", "null"]},
        "revoked": {"type": ["string", "null"]},
        "state": {"enum": ["Active", "Expired", "Revoked"]},
    },
}

_TOKEN_SCHEMA: Schema = {
    "description": "One token's grant. `token` is present only in the answer that created or rotated it.",
    "allOf": [{"$ref": REF.format(model="TokenGrant")}],
    "required": ["kind"],
    "properties": {
        "kind": {"const": "Token"},
        "token": {"type": "string"},
        "writtenTo": {"type": "string", "description": "rotate-admin: the file the successor was written to"},
    },
}

_NAMESPACE_SCHEMA: Schema = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Namespace"},
        "metadata": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "status": {"type": "object", "properties": {"phase": {"const": "Active"}}},
    },
}

_DELETE_OPTIONS_SCHEMA: Schema = {
    "type": ["object", "null"],
    "description": "Optional: `preconditions.resourceVersion` makes the delete conditional (409 if it changed).",
    "properties": {
        "preconditions": {
            "type": ["object", "null"],
            "properties": {"resourceVersion": {"type": ["string", "null"]}},
        }
    },
}


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def _json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _object_body(schema: Schema) -> Schema:
    """A request body the server reads as JSON or YAML (`bodies.read_body`)."""
    media = sorted(t for t in JSON_TYPES | YAML_TYPES if t)
    return {"required": True, "content": {m: {"schema": schema} for m in media}}


def _error(code: int) -> Schema:
    schema: Schema = {
        "allOf": [_ref(STATUS)],
        "properties": {"code": {"const": code}, "reason": {"enum": list(REASONS[code])}},
    }
    response: Schema = {"description": ERROR_MEANINGS[code], "content": _json_content(schema)}
    if code == 401:
        response["headers"] = {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string"}, "description": "Bearer realm"}
        }
    return response


def _responses(ok: Schema, *errors: int, code: str = "200") -> Schema:
    """The answers of one operation: its success and each refusal it can give."""
    out: Schema = {code: {"description": "OK", "content": _json_content(ok)}}
    for error in sorted({401, *errors}):
        out[str(error)] = {"$ref": f"#/components/responses/Status{error}"}
    return out


BODY_ERRORS = (400, 408, 413, 415, 422)
"""What reading and validating a body can refuse with."""


def _list_schema(info: KindInfo) -> Schema:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "items"],
        "properties": {
            "kind": {"const": f"{info.kind}List"},
            "apiVersion": {"const": info.api_version},
            "metadata": {"type": "object", "properties": {"resourceVersion": {"type": "string", "pattern": "^[0-9]+$"}}},
            "items": {"type": "array", "items": _ref(info.kind)},
        },
    }


def _list_responses(info: KindInfo) -> Schema:
    """A list (application/json), or with `watch` a stream of events, one JSON object a line."""
    responses = _responses(_list_schema(info), 400, 403, 410, 422)
    event = {
        "type": "object",
        "description": "One line of the stream. ERROR carries a Status (410: list again).",
        "required": ["type", "object"],
        "properties": {
            "type": {"enum": ["ADDED", "MODIFIED", "DELETED", "ERROR"]},
            "object": {"anyOf": [_ref(info.kind), _ref(STATUS)]},
        },
    }
    responses["200"]["content"][WATCH_CONTENT_TYPE] = {"schema": event}
    return responses


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _list_parameters() -> list[Schema]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in LIST_PARAMETERS]


def _parameter_components() -> Schema:
    revision: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_INT_PARAM}
    field_keys = r"metadata\.(name|namespace)"
    parameters = [
        _query(
            "labelSelector",
            {"type": "string", "pattern": LABEL_SELECTOR_PATTERN},
            "Kubernetes' string form, e.g. 'tier=gold,region in (eu-west,eu-north),!deprecated'",
        ),
        _query(
            "fieldSelector",
            {"type": "string", "pattern": selector_pattern(field_keys)},
            "metadata.name and metadata.namespace, in the label selector's forms, e.g. 'metadata.name=llama'",
        ),
        _query(
            "watch",
            {"type": "string", "enum": list(WATCH_VALUES)},
            "'true' or '1': stream newline-delimited JSON events instead of listing",
        ),
        _query("resourceVersion", revision, "watch: follow events after this revision (0: from the current state)"),
        _query("timeoutSeconds", revision, "watch: end the stream after this many seconds"),
        {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string", **dns1123_label_schema()}},
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string", **dns1123_label_schema()}},
    ]
    return {p["name"]: p for p in parameters}


def _path_parameter(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _served_api_versions(info: KindInfo) -> list[str]:
    """The apiVersions a body of this kind may name (`manifest.translate_modelplane` reads Modelplane's)."""
    if info.api_version == GROUP_VERSION:
        return [GROUP_VERSION, f"{MODELPLANE_GROUP}/{API_VERSION}"]
    return [info.api_version]


def _replace_schema(info: KindInfo, kind_schema: Schema) -> Schema:
    """The PUT body: the kind's schema whose metadata may leave name and namespace out (the
    URL supplies them); when present they must equal the URL's, a rule stated in words."""
    schema = copy.deepcopy(kind_schema)
    meta = _ref("ObjectMetaOnReplace" if info.namespaced else "ObjectMetaClusterScopedOnReplace")
    schema["properties"]["metadata"] = {"anyOf": [meta, {"type": "null"}]}
    schema["required"] = [r for r in schema.get("required", []) if r != "metadata"]
    schema["title"] = f"{info.kind} (replace)"
    return schema


def _kind_paths(info: KindInfo) -> Schema:
    tag = [info.kind]
    obj = _ref(info.kind)
    body = _object_body(obj)
    replace_body = _object_body(_ref(f"{info.kind}OnReplace"))
    patch_body = {"required": True, "content": {MERGE_PATCH_TYPE: {"schema": {"type": "object"}}}}
    same_name = (
        " The body's metadata.name and metadata.namespace may be left out; when present they must "
        "equal the URL's (400 otherwise)."
    )
    paths: Schema = {}
    if info.namespaced:
        paths[collection_path(info)] = {
            "get": {
                "tags": tag,
                "operationId": f"list{info.kind}AllNamespaces",
                "summary": f"List or watch {info.plural} in every namespace the token may read",
                "parameters": _list_parameters(),
                "responses": _list_responses(info),
            },
        }
        collection = collection_path(info, "{namespace}")
        params = [_path_parameter("namespace")]
    else:
        collection = collection_path(info)
        params = []
    paths[collection] = {
        "parameters": params,
        "get": {
            "tags": tag,
            "operationId": f"list{info.kind}",
            "summary": f"List or watch {info.plural}",
            "parameters": _list_parameters(),
            "responses": _list_responses(info),
        },
        "post": {
            "tags": tag,
            "operationId": f"create{info.kind}",
            "summary": f"Create a {info.kind}",
            "description": "The fields the store assigns (uid, resourceVersion, generation, timestamps) and "
            "the status are dropped; metadata.namespace, when present, must equal the URL's.",
            "requestBody": body,
            "responses": _responses(obj, *BODY_ERRORS, 403, 409, code="201"),
        },
    }
    item = f"{collection}/{{name}}"
    item_params = [*params, _path_parameter("name")]
    write_errors = (*BODY_ERRORS, 403, 404, 409)
    paths[item] = {
        "parameters": item_params,
        "get": {"tags": tag, "operationId": f"read{info.kind}", "summary": f"Read a {info.kind}",
                "responses": _responses(obj, 400, 403, 404)},
        "put": {"tags": tag, "operationId": f"replace{info.kind}", "summary": f"Replace a {info.kind}",
                "description": "A metadata.resourceVersion makes it conditional (409 if the object changed)."
                + same_name,
                "requestBody": replace_body, "responses": _responses(obj, *write_errors)},
        "patch": {"tags": tag, "operationId": f"patch{info.kind}",
                  "summary": f"Merge-patch a {info.kind} (RFC 7386); the result is validated whole",
                  "requestBody": patch_body, "responses": _responses(obj, *write_errors)},
        "delete": {"tags": tag, "operationId": f"delete{info.kind}", "summary": f"Delete a {info.kind}",
                   "requestBody": {"required": False, "content": _json_content(_ref("DeleteOptions"))},
                   "responses": _responses(obj, 400, 403, 404, 408, 409, 413, 415)},
    }
    if info.kind in SUBRESOURCES["status"]:
        paths[f"{item}/status"] = {
            "parameters": item_params,
            "get": {"tags": tag, "operationId": f"read{info.kind}Status", "summary": f"Read a {info.kind}'s status",
                    "responses": _responses(obj, 400, 403, 404)},
            "put": {"tags": tag, "operationId": f"replace{info.kind}Status", "summary": "Replace the status (admin)",
                    "description": same_name.strip(), "requestBody": replace_body,
                    "responses": _responses(obj, *write_errors)},
            "patch": {"tags": tag, "operationId": f"patch{info.kind}Status", "summary": "Merge-patch the status (admin)",
                      "requestBody": patch_body, "responses": _responses(obj, *write_errors)},
        }
    if info.kind in SUBRESOURCES["scale"]:
        scale = _ref("Scale")
        scale_patch = {"required": True, "content": {MERGE_PATCH_TYPE: {"schema": {"type": "object"}}}}
        paths[f"{item}/scale"] = {
            "parameters": item_params,
            "get": {"tags": tag, "operationId": f"read{info.kind}Scale", "summary": "Read the scale",
                    "responses": _responses(scale, 400, 403, 404)},
            "put": {"tags": tag, "operationId": f"replace{info.kind}Scale", "summary": "Set the replicas",
                    "requestBody": _object_body(scale), "responses": _responses(scale, *write_errors)},
            "patch": {"tags": tag, "operationId": f"patch{info.kind}Scale", "summary": "Merge-patch the scale",
                      "requestBody": scale_patch, "responses": _responses(scale, *write_errors)},
        }
    return paths


def _token_paths() -> Schema:
    base = f"/apis/{GROUP_VERSION}/tokens"
    token = _ref("Token")
    token_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
                "description": "a token's id (the first hex digits of its hash), or 'admin': the data directory's"}
    rotation = {"required": False, "content": _json_content({"type": "object", "properties": {"ttl": _TTL_SCHEMA}})}
    return {
        base: {
            "get": {"tags": ["Token"], "operationId": "listTokens",
                    "summary": "List token grants: all of them for an admin, only itself for any other token",
                    "responses": _responses({"type": "object", "required": ["kind", "items"],
                                             "properties": {"kind": {"const": "TokenList"},
                                                            "items": {"type": "array", "items": _ref("TokenGrant")}}})},
            "post": {"tags": ["Token"], "operationId": "createToken",
                     "summary": "Create a token (admin); the answer is the only time it is shown",
                     "requestBody": _object_body(_ref("TokenRequest")),
                     "responses": _responses(token, *BODY_ERRORS, 403, code="201")},
        },
        f"{base}/{{id}}": {
            "parameters": [token_id],
            "get": {"tags": ["Token"], "operationId": "readToken", "summary": "One token's grant (admin, or itself)",
                    "responses": _responses(token, 404)},
            "delete": {"tags": ["Token"], "operationId": "revokeToken",
                       "summary": "Revoke a token (admin, or itself); effective on the next request",
                       "responses": _responses(token, 404, 409)},
        },
        f"{base}/{{id}}/rotate": {
            "parameters": [token_id],
            "post": {"tags": ["Token"], "operationId": "rotateToken",
                     "summary": "Rotate (admin): a successor with the same grant; the old one is revoked",
                     "requestBody": rotation, "responses": _responses(token, *BODY_ERRORS, 403, 404, 409, code="201")},
        },
    }


def _ticket_check_paths() -> Schema:
    row = {"type": "object", "required": ["key", "passed", "reason", "message", "details"],
           "properties": {"key": {"type": "string"}, "passed": {"type": "boolean"}, "reason": {"type": "string"},
                          "message": {"type": "string"}, "details": {"type": "array", "items": {"type": "string"}}}}
    report = {"type": "object", "required": ["ticket", "passed", "failing", "rows"],
              "properties": {"ticket": {"type": "string"}, "passed": {"type": "boolean"},
                             "failing": {"type": "array", "items": {"type": "string"}},
                             "rows": {"type": "array", "items": row}}}
    return {
        f"/apis/{GROUP_VERSION}/ticketchecks": {
            "post": {"tags": ["InferenceTicket"], "operationId": "checkInferenceTicket",
                     "summary": "Check a ticket's rows against the whole fleet (nothing is stored; a team token "
                                "only for its own namespaces, and it learns capacity figures only)",
                     "requestBody": _object_body(_ref("InferenceTicket")),
                     "responses": _responses(report, *BODY_ERRORS, 403)},
        },
    }


def _discovery_paths() -> Schema:
    any_object: Schema = {"type": "object"}
    text = {"text/plain": {"schema": {"type": "string"}}}
    core = f"/api/{CORE_VERSION}"
    return {
        "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness of the server and its store",
                             "security": [], "responses": {"200": {"description": "ok", "content": text},
                                                           "503": {"description": "the store does not answer",
                                                                   "content": text}}}},
        "/version": {"get": {"operationId": "version", "summary": "The server's version", "security": [],
                             "responses": {"200": {"description": "OK", "content": _json_content(_ref("Version"))}}}},
        "/openapi/v3": {"get": {"operationId": "openapi", "summary": "This document", "security": [],
                                "responses": {"200": {"description": "OK", "content": _json_content(any_object)}}}},
        "/apis": {"get": {"operationId": "apiGroups", "summary": "Discovery: APIGroupList",
                          "responses": _responses({"type": "object", "properties": {"kind": {"const": "APIGroupList"}}})}},
        f"/apis/{GROUP_VERSION}": {"get": {"operationId": "groupResources", "summary": "Discovery: APIResourceList",
                                           "responses": _responses(_ref("APIResourceList"))}},
        "/api": {"get": {"operationId": "coreVersions", "summary": "Discovery: APIVersions",
                         "responses": _responses({"type": "object", "properties": {"kind": {"const": "APIVersions"}}})}},
        core: {"get": {"operationId": "coreResources", "summary": "Discovery: APIResourceList of the core group",
                       "responses": _responses(_ref("APIResourceList"))}},
        f"{core}/namespaces": {"get": {"operationId": "listNamespaces",
                                       "summary": "Namespaces that hold at least one object the token may read",
                                       "responses": _responses({"type": "object", "required": ["kind", "items"],
                                                                "properties": {"kind": {"const": "NamespaceList"},
                                                                               "items": {"type": "array",
                                                                                         "items": _ref("Namespace")}}})}},
        f"{core}/namespaces/{{namespace}}": {
            "parameters": [_path_parameter("namespace")],
            "get": {"operationId": "readNamespace", "summary": "A namespace, if it holds an object the token may read",
                    "responses": _responses(_ref("Namespace"), 400, 404)},
        },
    }


def _support_schemas() -> Schema:
    return {
        STATUS: _STATUS_SCHEMA,
        "Scale": _SCALE_SCHEMA,
        "TokenRequest": _TOKEN_REQUEST_SCHEMA,
        "Token": _TOKEN_SCHEMA,
        "TokenGrant": _TOKEN_GRANT_SCHEMA,
        "Namespace": _NAMESPACE_SCHEMA,
        "DeleteOptions": _DELETE_OPTIONS_SCHEMA,
        "Version": {
            "type": "object",
            "required": ["major", "minor", "gitVersion", "platform", "pythonVersion"],
            "properties": {k: {"type": "string"} for k in ("major", "minor", "gitVersion", "platform", "pythonVersion")},
        },
        "APIResourceList": {
            "type": "object",
            "required": ["kind", "groupVersion", "resources"],
            "properties": {
                "kind": {"const": "APIResourceList"},
                "groupVersion": {"type": "string"},
                "resources": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "verbs"]}},
            },
        },
    }


def _component_schemas() -> Schema:
    _, schemas = models_json_schema([(info.model, "validation") for info in KINDS], ref_template=REF)
    components: Schema = dict(schemas.get("$defs", {}))
    cluster_meta = copy.deepcopy(components["ObjectMeta"])
    cluster_meta["properties"]["namespace"] = {"enum": ["", None], "description": "cluster-scoped: no namespace"}
    cluster_meta["title"] = "ObjectMeta (cluster-scoped)"
    components["ObjectMetaClusterScoped"] = cluster_meta
    for info in KINDS:
        kind_schema = components[info.kind]
        kind_schema["properties"]["apiVersion"] = {"enum": _served_api_versions(info), "default": info.api_version}
        if not info.namespaced:
            kind_schema["properties"]["metadata"] = _ref("ObjectMetaClusterScoped")
        components[f"{info.kind}OnReplace"] = _replace_schema(info, kind_schema)
    for meta in ("ObjectMeta", "ObjectMetaClusterScoped"):
        on_replace = copy.deepcopy(components[meta])
        on_replace["required"] = [r for r in on_replace.get("required", []) if r != "name"]
        on_replace["properties"]["name"] = {"anyOf": [on_replace["properties"]["name"], {"type": "null"}]}
        on_replace["title"] = f"{on_replace['title']} (replace)"
        components[f"{meta}OnReplace"] = on_replace
    support = _support_schemas()
    taken = set(support) & set(components)
    assert not taken, f"schema names used by both the models and the document: {sorted(taken)}"
    components.update(support)
    return components


@functools.lru_cache(maxsize=1)
def build_openapi() -> Schema:
    """The whole OpenAPI document (cached; treat the result as read-only)."""
    paths: Schema = {**_discovery_paths(), **_token_paths(), **_ticket_check_paths()}
    for info in KINDS:
        paths.update(_kind_paths(info))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "laneway control-plane API",
            "version": laneway.__version__,
            "description": "Kubernetes-style API of laneway's resources, generated from the models and "
            "checks that validate requests. Errors are Kubernetes Status objects.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _component_schemas(),
            "parameters": _parameter_components(),
            "responses": {f"Status{code}": _error(code) for code in REASONS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
