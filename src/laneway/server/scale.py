"""The scale subresource of ModelDeployment, in Kubernetes' `autoscaling/v1` Scale shape.

`Scale.spec.replicas` is the deployment's `.spec.replicas`; `Scale.status.replicas` is its
`.status.replicas.total`. Tools that scale Kubernetes workloads (`kubectl scale`, autoscalers)
speak this shape, so laneway's deployments scale the same way.
"""

from __future__ import annotations

from typing import Any

from laneway.api.errors import FieldProblem
from laneway.api.kinds import ModelDeployment

SCALE_API_VERSION = "autoscaling/v1"
MAX_REPLICAS = 100000  # the bound ModelDeploymentSpec.replicas keeps


def scale_of(deployment: ModelDeployment) -> dict[str, Any]:
    """The Scale document that describes `deployment`."""
    meta = deployment.metadata
    metadata: dict[str, Any] = {"name": meta.name, "namespace": meta.namespace or ""}
    for wire_key, value in (
        ("uid", meta.uid),
        ("resourceVersion", meta.resource_version),
        ("creationTimestamp", meta.creation_timestamp),
    ):
        if value is not None:
            metadata[wire_key] = value
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": metadata,
        "spec": {"replicas": deployment.spec.replicas},
        "status": {"replicas": deployment.status.replicas.total},
    }


def replicas_from_scale(document: Any) -> tuple[int, str | None]:
    """The desired replica count and optional resourceVersion precondition a Scale carries.

    Raises `ScaleInvalid` naming the field when the document is not a usable Scale."""
    if not isinstance(document, dict):
        raise ScaleInvalid([FieldProblem("", "expected a Scale object with spec.replicas")])
    problems: list[FieldProblem] = []
    kind = document.get("kind")
    if kind is not None and kind != "Scale":
        problems.append(FieldProblem("kind", f"expected 'Scale', got {kind!r}"))
    api_version = document.get("apiVersion")
    if api_version is not None and api_version != SCALE_API_VERSION:
        problems.append(FieldProblem("apiVersion", f"expected {SCALE_API_VERSION!r}, got {api_version!r}"))
    for part in ("metadata", "status"):
        if document.get(part) is not None and not isinstance(document[part], dict):
            problems.append(FieldProblem(part, f"must be an object, got {type(document[part]).__name__}"))
    spec = document.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    if replicas is None:
        problems.append(FieldProblem("spec.replicas", "required field is missing; set the desired replica count"))
    elif isinstance(replicas, bool) or not isinstance(replicas, int):
        problems.append(FieldProblem("spec.replicas", f"must be a whole number, got {replicas!r}"))
    elif not 0 <= replicas <= MAX_REPLICAS:
        problems.append(FieldProblem("spec.replicas", f"must be between 0 and {MAX_REPLICAS}, got {replicas}"))
    metadata = document.get("metadata")
    resource_version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    if resource_version is not None and not isinstance(resource_version, str):
        problems.append(FieldProblem("metadata.resourceVersion", "must be a string as read from the object"))
    if problems:
        raise ScaleInvalid(problems)
    assert isinstance(replicas, int)
    return replicas, resource_version


class ScaleInvalid(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
