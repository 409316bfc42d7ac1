"""From an HTTP request to a service: the two path shapes, keys and model names. Pure.

- `/{namespace}/{service}/{rest}` (Modelplane's shape): the prefix is stripped and `/{rest}`
  goes to the endpoint below its `rewritePath`.
- `/v1/{rest}`: the request body's `model` picks the service that publishes that name (its
  own name or one of `spec.modelNames`) among those the caller's key may use; the path goes
  upstream unchanged.

A retired service (see `table.RETIRED_ANNOTATION`) still routes, so its callers get its 410
Gone rather than a 404, but a live service publishing the same model name wins, and
`/v1/models` no longer lists it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from laneway.api.meta import ObjectKey
from laneway.gateway.errors import GatewayError
from laneway.gateway.keys import Grant
from laneway.gateway.table import RoutingTable, ServiceRoute


@dataclass(frozen=True)
class Routed:
    route: ServiceRoute
    key_id: str
    upstream_path: str


def split_prefixed(path: str) -> tuple[ObjectKey, str] | None:
    """`/ns/svc/rest...` -> (ObjectKey(ns, svc), "/rest..."); None when the path is too short."""
    parts = path.split("/", 3)
    if len(parts) < 3 or not parts[1] or not parts[2]:
        return None
    rest = "/" + parts[3] if len(parts) == 4 else "/"
    return ObjectKey(parts[1], parts[2]), rest


def route_prefixed(table: RoutingTable, path: str, grant: Grant | None) -> Routed:
    split = split_prefixed(path)
    if split is None:
        raise GatewayError(
            404,
            f"No route for {path!r}: call /{{namespace}}/{{service}}/v1/... or /v1/... with a 'model' in the body.",
            "not_found",
        )
    key, rest = split
    route = table.services.get(key)
    if route is None:
        raise GatewayError(
            404, f"No ModelService {key.name!r} in namespace {key.namespace!r}: check the name with 'laneway get ms -n {key.namespace}'.", "service_not_found"
        )
    return Routed(route, table.keys.authorize(key, grant), rest)


def route_by_model(table: RoutingTable, path: str, payload: dict[str, Any] | None, grant: Grant | None) -> Routed:
    model = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(model, str) or not model:
        raise GatewayError(
            400,
            "The request names no 'model': /v1 routes by the model name in the JSON body "
            "(or call /{namespace}/{service}/v1/... directly).",
            "missing_model",
        )
    first_error: GatewayError | None = None
    retired: Routed | None = None
    for key in table.by_model.get(model, ()):
        try:
            key_id = table.keys.authorize(key, grant)
        except GatewayError as err:
            first_error = first_error or err
            continue
        route = table.services[key]
        if route.retired:  # another service may still publish the name; else its 410 answers
            retired = retired or Routed(route, key_id, path)
            continue
        return Routed(route, key_id, path)
    if retired is not None:
        return retired
    if first_error is not None:
        raise first_error
    raise GatewayError(
        404,
        f"The model {model!r} does not exist or you do not have access to it: no ModelService publishes it "
        "(a service answers to its own name and to spec.modelNames).",
        "model_not_found",
    )


def visible_models(table: RoutingTable, grant: Grant | None) -> list[tuple[str, ObjectKey]]:
    """Model names the caller may use, with the service that answers each (first one wins)."""
    out: dict[str, ObjectKey] = {}
    for key, route in table.services.items():
        if route.retired:
            continue
        try:
            table.keys.authorize(key, grant)
        except GatewayError:
            continue
        for name in route.model_names:
            out.setdefault(name, key)
    return sorted(out.items())
