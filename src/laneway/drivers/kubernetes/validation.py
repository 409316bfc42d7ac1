"""Check rendered objects before anything is sent: what the target API would refuse, refused here.

- Built-in kinds (Namespace, Deployment, Service, ResourceClaimTemplate, ConfigMap, RBAC)
  validate against the official OpenAPI schemas that the `kubernetes-validate` package ships,
  in strict mode (an unknown field is an error, as `kubectl apply --validate=strict`), for
  every supported Kubernetes version: 1.34 (the first with `resource.k8s.io/v1`) and the
  newest the package knows.
- Custom resources (LeaderWorkerSet, HTTPRoute, Gateway, InferencePool) validate with
  `jsonschema` against their CRDs' `openAPIV3Schema`, bundled with laneway under
  `schemas/` (LeaderWorkerSet v1, Gateway API v1.5.1, Inference Extension v1.0.1) with
  unknown fields refused as the API server prunes-and-rejects them.

What it does not check: CEL validation rules (`x-kubernetes-validations`) of CRDs and
admission webhooks; the API server still has the last word on those.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils

from laneway.drivers.kubernetes.errors import InvalidRendered

OLDEST_SUPPORTED = "1.34"
SCHEMA_PACKAGE = "laneway.drivers.kubernetes"
SCHEMA_FILES = {
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "leaderworkersets.leaderworkerset.x-k8s.io.json",
    ("gateway.networking.k8s.io", "HTTPRoute"): "httproutes.gateway.networking.k8s.io.json",
    ("gateway.networking.k8s.io", "Gateway"): "gateways.gateway.networking.k8s.io.json",
    ("inference.networking.k8s.io", "InferencePool"): "inferencepools.inference.networking.k8s.io.json",
    ("gateway.networking.k8s.io", "GatewayClass"): "gatewayclasses.gateway.networking.k8s.io.json",
    ("inference.networking.x-k8s.io", "InferenceObjective"): "inferenceobjectives.inference.networking.x-k8s.io.json",
    ("grove.io", "PodCliqueSet"): "podcliquesets.grove.io.json",
}


def supported_versions() -> tuple[str, ...]:
    """Kubernetes versions rendered objects must be valid for: 1.34 and the newest known."""
    newest = ".".join(str(kubernetes_validate.latest_version()).split(".")[:2])
    return (OLDEST_SUPPORTED,) if newest == OLDEST_SUPPORTED else (OLDEST_SUPPORTED, newest)


@functools.cache
def bundled_crd(file_name: str) -> dict[str, Any]:
    """One bundled upstream CRD document (metadata, names, versions with their schemas)."""
    text = resources.files(SCHEMA_PACKAGE).joinpath("schemas").joinpath(file_name).read_text()
    crd: dict[str, Any] = json.loads(text)
    return crd


def bundled_crds() -> list[dict[str, Any]]:
    return [bundled_crd(f) for f in sorted(set(SCHEMA_FILES.values()))]


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def crd_schema(crd: Mapping[str, Any], version: str) -> dict[str, Any] | None:
    for v in crd["spec"]["versions"]:
        if v["name"] == version and v.get("served", True):
            schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
            return schema
    return None


def strict_schema(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever an object lists its properties and
    does not preserve unknown fields: the structural-schema pruning the API server applies,
    turned into an error as strict field validation does."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items() if k != "x-kubernetes-validations"}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _crd_validator(group: str, version: str, kind: str) -> jsonschema.protocols.Validator | None:
    file_name = SCHEMA_FILES.get((group, kind))
    if file_name is None:
        return None
    schema = crd_schema(bundled_crd(file_name), version)
    if schema is None:
        return None
    root = strict_schema(schema)
    # apiVersion/kind/metadata are the API server's, not the CRD's, to check.
    root.setdefault("properties", {}).setdefault("metadata", {"type": "object"})
    root["properties"]["metadata"] = {"type": "object"}
    cls = jsonschema.validators.validator_for(root, default=jsonschema.Draft7Validator)
    return cls(root)


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def _where(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def problems_of(obj: Mapping[str, Any], versions: tuple[str, ...]) -> Iterator[str]:
    """Every reason the target API would refuse `obj`, as one line each."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    group, version = _split(api_version)
    validator = _crd_validator(group, version, kind)
    if validator is not None:
        for error in sorted(validator.iter_errors(dict(obj)), key=lambda e: list(e.absolute_path)):
            yield f"{_where(obj)}: {_path(error.absolute_path)}: {error.message} (CRD {group}/{version})"
        return
    if group and "." in group and not group.endswith(".k8s.io"):
        yield f"{_where(obj)}: no bundled schema for {api_version} {kind}; laneway renders none such, so this is a bug"
        return
    for k8s in versions:
        try:
            kubernetes_validate.validate(dict(obj), k8s, strict=True)
        except kubernetes_validate.utils.SchemaNotFoundError:
            yield f"{_where(obj)}: Kubernetes {k8s} does not serve {api_version} {kind}"
        except kubernetes_validate.ValidationError as error:
            cause = getattr(error, "caused_by", error)
            path = getattr(cause, "absolute_path", getattr(cause, "path", ()))
            message = getattr(cause, "message", str(error).splitlines()[0])
            yield f"{_where(obj)}: {_path(path)}: {message} (Kubernetes {k8s})"


def validate_objects(objects: Iterable[Mapping[str, Any]], *, versions: tuple[str, ...] | None = None) -> None:
    """Raise InvalidRendered listing every problem of every object; return when all are valid."""
    wanted = versions or supported_versions()
    problems = [p for obj in objects for p in problems_of(obj, wanted)]
    if problems:
        raise InvalidRendered(problems)
