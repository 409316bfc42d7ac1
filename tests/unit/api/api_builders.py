"""Builders of minimal valid documents, so each test states only what it changes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from laneway.api.errors import InvalidObject
from laneway.api.manifest import parse_object


def member(role: str = "Standalone", *, devices: bool = True, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "role": role,
        "template": {"spec": {"containers": [{"name": "engine", "image": "vllm/vllm-openai:v0.23.0"}]}},
    }
    if devices:
        m["nodeSelector"] = {"devices": [{"name": "gpu", "selectors": [{"cel": 'device.driver == "gpu.nvidia.com"'}]}]}
    m.update(extra)
    return m


def engine(name: str = "main", members: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "members": members if members is not None else [member()], **extra}


def deployment(*, engines: list[dict[str, Any]] | None = None, spec: dict[str, Any] | None = None, **template_spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "llm", "namespace": "ml-team"},
        "spec": {"template": {"spec": {"engines": engines if engines is not None else [engine()], **template_spec}}},
    }
    doc["spec"].update(spec or {})
    return doc


def cls(**device: Any) -> dict[str, Any]:
    d = {"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", **device}
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceClass", "metadata": {"name": "h100"}, "spec": {"devices": [d]}}


def cluster(**spec: Any) -> dict[str, Any]:
    body = {"cluster": {"source": "Local"}, "nodePools": [{"name": "gpu", "className": "h100"}]}
    body.update(spec)
    return {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceCluster", "metadata": {"name": "c1"}, "spec": body}


def problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) of every problem; fails the test when the document is valid."""
    with pytest.raises(InvalidObject) as info:
        parse_object(copy.deepcopy(document), source="t.yaml", index=0)
    return [(p.path, p.message) for p in info.value.problems]


def only_problem(document: dict[str, Any]) -> tuple[str, str]:
    found = problems(document)
    assert len(found) == 1, found
    return found[0]
