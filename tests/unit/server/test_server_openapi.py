"""The OpenAPI document covers every kind, from the same models that validate requests."""

from __future__ import annotations

import json

from laneway.api.meta import DNS1123_LABEL_PATTERN, LABEL_KEY_PATTERN
from laneway.api.registry import KINDS
from laneway.api.selectors import LABEL_SELECTOR_PATTERN
from laneway.server.openapi import build_openapi
from laneway.server.resources import MAX_INT_PARAM, WATCH_VALUES
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


def test_parameters_carry_the_patterns_and_values_the_server_checks() -> None:
    params = build_openapi()["components"]["parameters"]
    for name in ("namespace", "name"):
        assert params[name]["schema"]["pattern"] == DNS1123_LABEL_PATTERN
        assert params[name]["schema"]["maxLength"] == 63
    assert params["labelSelector"]["schema"]["pattern"] == LABEL_SELECTOR_PATTERN
    assert params["watch"]["schema"]["enum"] == list(WATCH_VALUES)
    assert params["resourceVersion"]["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_INT_PARAM}


def test_metadata_names_and_labels_carry_their_patterns() -> None:
    meta = build_openapi()["components"]["schemas"]["ObjectMeta"]["properties"]
    assert meta["name"]["pattern"] == meta["namespace"]["pattern"] == DNS1123_LABEL_PATTERN
    assert meta["labels"]["propertyNames"]["pattern"] == LABEL_KEY_PATTERN


def test_declared_status_fields_are_in_the_document() -> None:
    schemas = build_openapi()["components"]["schemas"]
    assert {"autoscaling", "replicas"} <= set(schemas["ModelDeploymentStatus"]["properties"])
    assert {"scaleFromZero", "traffic", "address"} <= set(schemas["ModelServiceStatus"]["properties"])
    assert {"rollback", "canary", "composed"} <= set(schemas["InferenceTicketStatus"]["properties"])


def test_every_refusal_is_a_status_with_its_code() -> None:
    doc = build_openapi()
    responses = doc["components"]["responses"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert "default" not in codes, f"{method} {path}: every code is declared, none is left to 'default'"
            for code in codes - {"200", "201", "503"}:
                assert operation["responses"][code] == {"$ref": f"#/components/responses/Status{code}"}
                schema = responses[f"Status{code}"]["content"]["application/json"]["schema"]
                assert schema["properties"]["code"] == {"const": int(code)}
