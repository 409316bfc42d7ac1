"""The OpenAPI 3.1 document of the API, built from the kinds' pydantic models.

Schemas come from the same models that validate requests (`model_json_schema` of every kind
in the registry), so the document cannot drift from what the server accepts. Paths are
generated per kind from its scope and subresources. Built once per process and cached.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

import laneway
from laneway.api.registry import KINDS, KindInfo
from laneway.server.bodies import MERGE_PATCH_TYPE
from laneway.server.targets import SUBRESOURCES, collection_path

REF = "#/components/schemas/{model}"

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Kubernetes Status: every error the API returns.",
    "properties": {
        "kind": {"const": "Status"},
        "apiVersion": {"const": "v1"},
        "status": {"enum": ["Success", "Failure"]},
        "message": {"type": "string"},
        "reason": {"type": "string"},
        "code": {"type": "integer"},
        "details": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "causes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_SCALE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "autoscaling/v1 Scale: spec.replicas is the deployment's spec.replicas, "
    "status.replicas its status.replicas.total.",
    "properties": {
        "kind": {"const": "Scale"},
        "apiVersion": {"const": "autoscaling/v1"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 0}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    },
}

_TOKEN_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["admin", "platform", "team"]},
        "namespaces": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"},
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors() -> dict[str, Any]:
    return {"default": {"description": "a Kubernetes Status describing the error", "content": _json_content(_ref("Status"))}}


def _ok(schema: dict[str, Any], code: str = "200") -> dict[str, Any]:
    return {code: {"description": "OK", "content": _json_content(schema)}, **_errors()}


def _list_schema(info: KindInfo) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "kind": {"const": f"{info.kind}List"},
            "apiVersion": {"const": info.api_version},
            "metadata": {"type": "object", "properties": {"resourceVersion": {"type": "string"}}},
            "items": {"type": "array", "items": _ref(info.kind)},
        },
    }


def _list_parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return [
        query("labelSelector", {"type": "string"}, "e.g. 'tier=gold,region in (eu-west,eu-north)'"),
        query("fieldSelector", {"type": "string"}, "metadata.name or metadata.namespace, e.g. 'metadata.name=llama'"),
        query("watch", {"type": "boolean"}, "stream newline-delimited JSON events instead of listing"),
        query("resourceVersion", {"type": "string"}, "watch: follow events after this revision"),
        query("timeoutSeconds", {"type": "integer"}, "watch: end the stream after this many seconds"),
    ]


def _kind_paths(info: KindInfo) -> dict[str, Any]:
    tag = [info.kind]
    ns_param = [{"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}]
    name_param = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    body = {"required": True, "content": _json_content(_ref(info.kind))}
    patch_body = {"required": True, "content": {MERGE_PATCH_TYPE: {"schema": {"type": "object"}}}}
    paths: dict[str, Any] = {}
    if info.namespaced:
        paths[collection_path(info)] = {
            "get": {"tags": tag, "summary": f"List or watch {info.plural} in all namespaces",
                    "parameters": _list_parameters(), "responses": _ok(_list_schema(info))},
        }
        collection = collection_path(info, "{namespace}")
        params = ns_param
    else:
        collection = collection_path(info)
        params = []
    paths[collection] = {
        "parameters": params,
        "get": {"tags": tag, "summary": f"List or watch {info.plural}", "parameters": _list_parameters(),
                "responses": _ok(_list_schema(info))},
        "post": {"tags": tag, "summary": f"Create a {info.kind}", "requestBody": body,
                 "responses": _ok(_ref(info.kind), "201")},
    }
    item = f"{collection}/{{name}}"
    paths[item] = {
        "parameters": params + name_param,
        "get": {"tags": tag, "summary": f"Read a {info.kind}", "responses": _ok(_ref(info.kind))},
        "put": {"tags": tag, "summary": f"Replace a {info.kind}", "requestBody": body, "responses": _ok(_ref(info.kind))},
        "patch": {"tags": tag, "summary": f"Merge-patch a {info.kind} (RFC 7386)", "requestBody": patch_body,
                  "responses": _ok(_ref(info.kind))},
        "delete": {"tags": tag, "summary": f"Delete a {info.kind}", "responses": _ok(_ref(info.kind))},
    }
    if info.kind in SUBRESOURCES["status"]:
        paths[f"{item}/status"] = {
            "parameters": params + name_param,
            "get": {"tags": tag, "summary": f"Read a {info.kind}'s status", "responses": _ok(_ref(info.kind))},
            "put": {"tags": tag, "summary": "Replace the status (admin)", "requestBody": body,
                    "responses": _ok(_ref(info.kind))},
            "patch": {"tags": tag, "summary": "Merge-patch the status (admin)", "requestBody": patch_body,
                      "responses": _ok(_ref(info.kind))},
        }
    if info.kind in SUBRESOURCES["scale"]:
        scale_body = {"required": True, "content": _json_content(_ref("Scale"))}
        paths[f"{item}/scale"] = {
            "parameters": params + name_param,
            "get": {"tags": tag, "summary": "Read the scale", "responses": _ok(_ref("Scale"))},
            "put": {"tags": tag, "summary": "Set the replicas", "requestBody": scale_body, "responses": _ok(_ref("Scale"))},
            "patch": {"tags": tag, "summary": "Merge-patch the scale", "requestBody": patch_body,
                      "responses": _ok(_ref("Scale"))},
        }
    return paths


def _fixed_paths() -> dict[str, Any]:
    plain = {"200": {"description": "OK"}}
    return {
        "/healthz": {"get": {"summary": "Liveness of the server and its store", "security": [], "responses": plain}},
        "/version": {"get": {"summary": "The server's version", "security": [], "responses": plain}},
        "/openapi/v3": {"get": {"summary": "This document", "security": [], "responses": plain}},
        "/api/v1/namespaces": {"get": {"summary": "Namespaces that hold at least one object", "responses": _ok({"type": "object"})}},
        "/apis/laneway.dev/v1alpha1/tokens": {
            "get": {"summary": "List token grants (admin)", "responses": _ok({"type": "object"})},
            "post": {
                "summary": "Create a token (admin); the response is the only time it is shown",
                "requestBody": {"required": True, "content": _json_content(_ref("TokenRequest"))},
                "responses": _ok({"type": "object"}, "201"),
            },
        },
    }


@functools.lru_cache(maxsize=1)
def build_openapi() -> dict[str, Any]:
    """The whole OpenAPI document (cached; treat the result as read-only)."""
    _, schemas = models_json_schema([(info.model, "validation") for info in KINDS], ref_template=REF)
    components = dict(schemas.get("$defs", {}))
    components.update({"Status": _STATUS_SCHEMA, "Scale": _SCALE_SCHEMA, "TokenRequest": _TOKEN_REQUEST_SCHEMA})
    paths: dict[str, Any] = _fixed_paths()
    for info in KINDS:
        paths.update(_kind_paths(info))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "laneway control-plane API",
            "version": laneway.__version__,
            "description": "Kubernetes-style API of laneway's resources. Errors are Kubernetes Status objects.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
