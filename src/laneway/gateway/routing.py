"""From an HTTP request to a service: the two path shapes, keys and model names. Pure.

- `/{namespace}/{service}/{rest}` (Modelplane's shape): the prefix is stripped and `/{rest}`
  goes to the endpoint below its `rewritePath`.
- `/v1/{rest}`: the request body's `model` picks the service that publishes that name (its
  own name or one of `spec.modelNames`); only the namespace that owns the name answers (see
  `ownership`), and a key never takes its caller to another namespace that merely shares a
  name with its own; the path goes upstream unchanged.

Paths reach here already checked (`paths.check_path`) and still encoded.

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
    """`/ns/svc/rest...` -> (ObjectKey(ns, svc), "/rest..."); None when the path is too short.

    `path` is the raw (still encoded) path that passed `paths.check_path`: namespaces and
    service names are DNS labels, which need no encoding, and the rest is forwarded as sent."""
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
    return resolve_model(table, model, path, grant)


def resolve_model(table: RoutingTable, model: str, path: str, grant: Grant | None) -> Routed:
    """The service that answers `model` on `/v1` for this caller, or the refusal.

    Only the name's owner namespace is a candidate (see `ownership`). A caller whose key
    belongs to a namespace that also publishes the name, without owning it, is refused (409)
    rather than sent to the owner: its callers meant their own team's service and their
    prompts must not reach another team's. Among the owner's services, one this key was
    granted comes before one that is merely open, and a live one before a retired one (whose
    410 answers only when nothing else publishes the name)."""
    candidates = table.by_model.get(model, ())
    home = grant.home if grant is not None else frozenset()
    if home and candidates and candidates[0].namespace not in home and home & table.name_losers.get(model, frozenset()):
        raise GatewayError(
            409,
            f"The model {model!r} is published by a service your key may call, but another namespace claimed the name "
            "first, so /v1 does not route it there: see the ModelNameConflict condition on that service, rename it in "
            "spec.modelNames, or call /{namespace}/{service}/v1/... directly.",
            "model_name_conflict",
        )
    if len(candidates) > 1:
        candidates = tuple(
            sorted(candidates, key=lambda k: (table.services[k].retired is not None, grant is None or not grant.allows(k)))
        )
    first_error: GatewayError | None = None
    for key in candidates:
        try:
            key_id = table.keys.authorize(key, grant)
        except GatewayError as err:
            first_error = first_error or err
            continue
        return Routed(table.services[key], key_id, path)
    if first_error is not None:
        raise _by_model_name(first_error, model)
    raise GatewayError(
        404,
        f"The model {model!r} does not exist or you do not have access to it: no ModelService publishes it "
        "(a service answers to its own name and to spec.modelNames). GET /v1/models lists the models you may call.",
        "model_not_found",
    )


def _by_model_name(err: GatewayError, model: str) -> GatewayError:
    """A key refusal on `/v1`, phrased by the model name the caller asked for: the caller named
    no service, and which namespace and service answer a name is not for every caller to learn
    (the owner's callers know it; see `ownership.conflict_message`)."""
    if err.code == "missing_api_key":
        message = f"The model {model!r} requires an API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key')."
    elif err.code == "forbidden":
        message = f"This API key may not call the model {model!r}: use a key its owners gave you."
    else:
        return err
    return GatewayError(err.status, message, err.code, err.headers)


def visible_models(table: RoutingTable, grant: Grant | None) -> list[tuple[str, ObjectKey]]:
    """Model names the caller may use on `/v1`, with the service that answers each: the same
    decision `resolve_model` makes, so the list never shows a name the caller would be refused
    (nor one another namespace's callers own). Retired services are left out."""
    out: list[tuple[str, ObjectKey]] = []
    for name in sorted(table.by_model):
        try:
            routed = resolve_model(table, name, "/v1/models", grant)
        except GatewayError:
            continue
        if not routed.route.retired:
            out.append((name, routed.route.key))
    return out
