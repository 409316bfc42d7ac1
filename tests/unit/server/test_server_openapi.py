"""The OpenAPI document covers every kind, from the same models that validate requests."""

from __future__ import annotations

import json

from laneway.api.registry import KINDS
from laneway.server.openapi import build_openapi
from laneway.server.targets import collection_path


def test_every_kind_has_paths_and_a_schema() -> None:
    doc = build_openapi()
    assert doc["openapi"].startswith("3.")
    for info in KINDS:
        assert info.kind in doc["components"]["schemas"]
        assert collection_path(info, "{namespace}") in doc["paths"]
    scale = "/apis/laneway.dev/v1alpha1/namespaces/{namespace}/modeldeployments/{name}/scale"
    assert set(doc["paths"][scale]) >= {"get", "put", "patch"}
    json.dumps(doc)  # serialisable as served


def test_every_reference_resolves() -> None:
    doc = build_openapi()
    text = json.dumps(doc)
    names = set(doc["components"]["schemas"])
    for chunk in text.split('"$ref": "#/components/schemas/')[1:]:
        assert chunk.split('"', 1)[0] in names
