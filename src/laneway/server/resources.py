"""Handlers for the resource paths: list/watch and create on collections; get, replace,
merge-patch and delete on objects; the `status` and `scale` subresources.

Each handler does the same few steps in the same order: resolve the URL to a target,
authorise what can be known from the URL, read and validate the body, authorise again with
the object as written and as stored, then make one store call. Every object leaves through
`bodies.outgoing` (Secrets redacted). A merge patch whose target moved underneath it is
re-applied to the fresh object unless the patch itself pinned a resourceVersion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web

from laneway.api.kinds import ModelDeployment
from laneway.api.kinds.cache import ModelCache
from laneway.api.meta import Resource, rfc3339
from laneway.api.selectors import Requirement, SelectorSyntaxError, parse_selector
from laneway.server import bodies, scale
from laneway.server.admission import refuse_cache_in_use, refuse_invalid_cel
from laneway.server.authz import Access, Verb, authorize, can_read_namespace
from laneway.server.context import grant_of, stop_event_of, store_of
from laneway.server.errors import ApiError, Cause, bad_request, forbidden, invalid, method_not_allowed
from laneway.server.lanes import stamp_writer
from laneway.server.owned_metadata import metadata_limits, protect
from laneway.server.patch import merge_patch
from laneway.server.storecalls import run_store
from laneway.server.targets import Target, collection_path, resolve
from laneway.server.ticket_approval import stamp_approval
from laneway.server.ticket_gate import refuse_unticketed
from laneway.server.watchfilter import WatchFilter
from laneway.server.watching import WatchRequest, stream_watch
from laneway.store.base import Conflict
from laneway.ticket.revisions import with_first_revision

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PATCH_ATTEMPTS = 5
FIELD_SELECTOR_KEYS = frozenset({"metadata.name", "metadata.namespace"})
SUBRESOURCE_METHODS = ("GET", "PUT", "PATCH")
WATCH_VALUES = {"true": True, "1": True, "false": False, "0": False, "": False}
"""What `watch` may say, exactly; the OpenAPI document publishes these keys as its enum."""
MAX_INT_PARAM = 2**63 - 1
"""The largest revision or timeout a query may name: the store's integers are 64-bit."""
LIST_PARAMETERS = ("labelSelector", "fieldSelector", "watch", "resourceVersion", "timeoutSeconds")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _target(request: web.Request, group_version: str) -> Target:
    info = request.match_info
    return resolve(
        group_version,
        plural=info["plural"],
        namespace=info.get("namespace"),
        name=info.get("name"),
        subresource=info.get("subresource"),
    )


def _check(request: web.Request, verb: Verb, target: Target, *, obj: Resource | None = None,
           existing: Resource | None = None) -> None:
    grant = grant_of(request)
    decision = authorize(
        grant,
        Access(verb=verb, kind=target.kind, namespace=target.namespace, subresource=target.subresource,
               obj=obj, existing=existing),
    )
    if not decision.allowed:
        raise forbidden(decision.message, kind=target.kind.plural, name=target.name)


def _guard_metadata(request: web.Request, target: Target, obj: Resource, existing: Resource | None) -> Resource:
    """`obj` within the metadata limits, and, unless an admin wrote it, with the metadata
    laneway owns as `existing` holds it (see owned_metadata); a 422 naming the key otherwise."""
    problems = metadata_limits(obj)
    if grant_of(request).role != "admin":
        obj, owned = protect(obj, existing)
        problems += owned
    if problems:
        raise invalid(target.kind.kind, obj.name, problems)
    return obj


def _selector(request: web.Request, param: str, *, allowed_keys: frozenset[str] | None = None) -> list[Requirement]:
    text = request.query.get(param, "")
    try:
        requirements = parse_selector(text)
    except SelectorSyntaxError as e:
        raise bad_request(f"{param}: {e}") from None
    if allowed_keys is not None:
        for r in requirements:
            if r.key not in allowed_keys:
                raise bad_request(f"{param}: field {r.key!r} is not supported; use {', '.join(sorted(allowed_keys))}")
    return requirements


def _int_param(request: web.Request, param: str) -> int | None:
    raw = request.query.get(param)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()):
        # int() would also take '+5', ' 5', '1_000' and other scripts' digits: none is a revision.
        if raw.startswith("-") and raw[1:].isascii() and raw[1:].isdigit():
            raise bad_request(f"{param} must not be negative, got {raw}")
        raise bad_request(f"{param} must be a whole number written in digits 0-9, got {raw!r}")
    value = int(raw)
    if value > MAX_INT_PARAM:
        raise bad_request(f"{param} must be at most {MAX_INT_PARAM}, got {raw!r}")
    return value


def _watching(request: web.Request) -> bool:
    """`watch=true|1` streams, `watch=false|0` (or none) lists; anything else is a mistake
    worth saying (`watch=null` once listed silently, so a client never saw its watch fail)."""
    raw = request.query.get("watch", "")
    value = WATCH_VALUES.get(raw)
    if value is None:
        raise ApiError(
            422, "Invalid", f"watch must be true or false, got {raw!r}", [Cause("watch", "must be true or false")]
        )
    return value


# --- collections -------------------------------------------------------------------------


async def collection(group_version: str, request: web.Request) -> web.StreamResponse:
    target = _target(request, group_version)
    if request.method == "GET":
        return await _list_or_watch(request, target)
    if request.method == "POST":
        return await _create(request, target)
    raise method_not_allowed(
        f"{request.method} is not served on a collection; use GET (list, watch) or POST (create)", allow=("GET", "POST")
    )


def _once(request: web.Request) -> None:
    """Each list parameter at most once: with two values, which one the server obeyed would be a guess."""
    for param in LIST_PARAMETERS:
        if len(request.query.getall(param, ())) > 1:
            raise bad_request(f"{param} is given more than once; give it once")


async def _list_or_watch(request: web.Request, target: Target) -> web.StreamResponse:
    # Every parameter is checked whether or not it is used, so a mistake is never silently ignored.
    _once(request)
    watching = _watching(request)
    _check(request, "watch" if watching else "list", target)
    selector = _selector(request, "labelSelector")
    field_selector = _selector(request, "fieldSelector", allowed_keys=FIELD_SELECTOR_KEYS)
    since = _int_param(request, "resourceVersion")
    timeout = _int_param(request, "timeoutSeconds")
    grant = grant_of(request)
    filt = WatchFilter(
        namespace=target.namespace,
        selector=selector,
        readable=partial(can_read_namespace, grant),
        field_selector=field_selector,
    )
    store = store_of(request)
    if watching:
        watch_request = WatchRequest(
            target=target,
            filter=filt,
            since=since or None,  # "0" means "from the current state", as in Kubernetes
            timeout_seconds=None if timeout is None else float(timeout),
        )
        return await stream_watch(request, store, watch_request, stop_event_of(request))
    listed = await run_store(store.list, target.kind.model, namespace=target.namespace or None, selector=filt.selector)
    items = [bodies.outgoing(s.object) for s in filt.seed(listed.items)]
    return _json(
        {
            "apiVersion": target.kind.api_version,
            "kind": f"{target.kind.kind}List",
            "metadata": {"resourceVersion": str(listed.revision)},
            "items": items,
        }
    )


async def _create(request: web.Request, target: Target) -> web.Response:
    info = target.kind
    if info.namespaced and not target.namespace:
        raise method_not_allowed(
            f"{info.kind} is namespaced: create it at {collection_path(info, '{namespace}')}", allow=("GET",)
        )
    _check(request, "create", target)
    document = bodies.require_mapping(await bodies.read_body(request))
    document = bodies.fit_to_target(document, target, creating=True)
    obj = await bodies.validate(document, target)
    obj = bodies.restore_redacted(obj, None)
    obj = bodies.without_status(obj)
    obj = _guard_metadata(request, target, obj, None)
    _check(request, "create", target, obj=obj)
    await asyncio.to_thread(refuse_invalid_cel, obj, None)
    await run_store(refuse_unticketed, store_of(request), grant_of(request), obj)
    obj = stamp_writer(grant_of(request), obj, None)
    if isinstance(obj, ModelDeployment):  # its first revision goes with the create, not in a second write
        obj = with_first_revision(obj, now_text=rfc3339(time.time()))
    stored = await run_store(store_of(request).create, obj)
    return _json(bodies.outgoing(stored), status=201)


# --- objects -------------------------------------------------------------------------------


async def item(group_version: str, request: web.Request) -> web.StreamResponse:
    target = _target(request, group_version)
    handlers: dict[str, Callable[[web.Request, Target], Awaitable[web.Response]]] = {
        "GET": _get,
        "PUT": _replace,
        "PATCH": _patch,
        "DELETE": _delete,
    }
    handler = handlers.get(request.method)
    if handler is None:
        raise method_not_allowed(
            f"{request.method} is not served on an object; use GET, PUT, PATCH or DELETE", allow=tuple(handlers)
        )
    return await handler(request, target)


async def _read(request: web.Request, target: Target) -> Resource:
    return await run_store(store_of(request).get, target.kind.model, target.key)


async def _get(request: web.Request, target: Target) -> web.Response:
    _check(request, "get", target)
    return _json(bodies.outgoing(await _read(request, target)))


async def _replace(request: web.Request, target: Target) -> web.Response:
    _check(request, "update", target)
    document = bodies.require_mapping(await bodies.read_body(request))
    document = bodies.fit_to_target(document, target, creating=False)
    obj = await bodies.validate(document, target)
    existing = await _read(request, target)
    obj = bodies.restore_redacted(obj, existing)
    obj = _guard_metadata(request, target, obj, existing)
    _check(request, "update", target, obj=obj, existing=existing)
    await asyncio.to_thread(refuse_invalid_cel, obj, existing)
    await run_store(refuse_unticketed, store_of(request), grant_of(request), obj)
    obj = stamp_writer(grant_of(request), obj, existing)
    stored = await run_store(store_of(request).update, obj)
    return _json(bodies.outgoing(stored))


def _pins_resource_version(patch: Any) -> bool:
    return isinstance(patch, dict) and isinstance(patch.get("metadata"), dict) and "resourceVersion" in patch["metadata"]


async def _apply_patch(
    request: web.Request,
    target: Target,
    write: Callable[[Resource], Resource],
    verb: Verb = "patch",
) -> Resource:
    """Read, patch, validate, authorise and write, retrying on a race unless the patch pins a version."""
    patch = await bodies.read_body(request, patch=True)
    if not isinstance(patch, dict):
        raise bad_request("a merge patch must be a JSON object of the fields to change (null removes a field)")
    bodies.refuse_null_metadata(patch, target.kind.kind)
    for attempt in range(PATCH_ATTEMPTS):
        existing = await _read(request, target)
        document = merge_patch(existing.wire(), patch)
        document = bodies.fit_to_target(bodies.require_mapping(document, "the patched object"), target, creating=False)
        obj = await bodies.validate(document, target)
        obj = bodies.restore_redacted(obj, existing)
        if target.subresource is None:  # a status write keeps the stored metadata anyway
            obj = _guard_metadata(request, target, obj, existing)
        _check(request, verb, target, obj=obj, existing=existing)
        if target.subresource is None:
            await asyncio.to_thread(refuse_invalid_cel, obj, existing)
            await run_store(refuse_unticketed, store_of(request), grant_of(request), obj)
        obj = stamp_writer(grant_of(request), obj, existing)
        if target.subresource == "status":
            obj = stamp_approval(grant_of(request), obj, existing, now=rfc3339(time.time()))
        try:
            return await run_store(write, obj)
        except ApiError as e:
            if e.reason != Conflict.reason or _pins_resource_version(patch) or attempt == PATCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable: the last attempt re-raises")


async def _patch(request: web.Request, target: Target) -> web.Response:
    _check(request, "patch", target)
    store = store_of(request)
    stored = await _apply_patch(request, target, store.update)
    return _json(bodies.outgoing(stored))


async def _delete(request: web.Request, target: Target) -> web.Response:
    _check(request, "delete", target)
    resource_version = None
    if (await bodies.read_raw(request)).strip():  # DeleteOptions are optional
        options = await bodies.read_body(request)
        if options is not None:
            options = bodies.require_mapping(options, "DeleteOptions")
            preconditions = options.get("preconditions")
            if preconditions is None:
                preconditions = {}
            if not isinstance(preconditions, dict):
                raise bad_request("DeleteOptions.preconditions must be an object such as {\"resourceVersion\": \"42\"}")
            resource_version = preconditions.get("resourceVersion")
            if resource_version is not None and not isinstance(resource_version, str):
                raise bad_request("DeleteOptions.preconditions.resourceVersion must be a string as read from the object")
    existing = await _read(request, target)
    _check(request, "delete", target, existing=existing)
    if isinstance(existing, ModelCache):
        await run_store(refuse_cache_in_use, store_of(request), existing)
    deleted = await run_store(store_of(request).delete, target.kind.model, target.key, resource_version=resource_version)
    return _json(bodies.outgoing(deleted))


# --- subresources ----------------------------------------------------------------------


async def subresource(group_version: str, request: web.Request) -> web.StreamResponse:
    target = _target(request, group_version)
    if target.subresource == "scale":
        return await _scale(request, target)
    return await _status(request, target)


async def _status(request: web.Request, target: Target) -> web.Response:
    store = store_of(request)
    if request.method == "GET":
        _check(request, "get", target)
        return _json(bodies.outgoing(await _read(request, target)))
    if request.method == "PUT":
        _check(request, "update", target)
        document = bodies.require_mapping(await bodies.read_body(request))
        document = bodies.fit_to_target(document, target, creating=False)
        obj = await bodies.validate(document, target)
        existing = await _read(request, target)
        _check(request, "update", target, obj=obj, existing=existing)
        obj = stamp_approval(grant_of(request), obj, existing, now=rfc3339(time.time()))
        return _json(bodies.outgoing(await run_store(store.update_status, obj)))
    if request.method == "PATCH":
        _check(request, "patch", target)
        stored = await _apply_patch(request, target, store.update_status)
        return _json(bodies.outgoing(stored))
    raise method_not_allowed(f"{request.method} is not served on status; use GET, PUT or PATCH", allow=SUBRESOURCE_METHODS)


async def _read_deployment(request: web.Request, target: Target) -> ModelDeployment:
    """The ModelDeployment a scale request names (scale is served on ModelDeployments only)."""
    store = store_of(request)
    return await run_store(lambda: store.get(ModelDeployment, target.key))


def _with_replicas(deployment: ModelDeployment, replicas: int, resource_version: str | None) -> ModelDeployment:
    meta = deployment.metadata
    if resource_version is not None:
        meta = meta.model_copy(update={"resource_version": resource_version})
    spec = deployment.spec.model_copy(update={"replicas": replicas})
    return deployment.model_copy(update={"spec": spec, "metadata": meta})


async def _scale(request: web.Request, target: Target) -> web.Response:
    store = store_of(request)
    if request.method == "GET":
        _check(request, "get", target)
        return _json(scale.scale_of(await _read_deployment(request, target)))
    if request.method not in ("PUT", "PATCH"):
        raise method_not_allowed(f"{request.method} is not served on scale; use GET, PUT or PATCH", allow=SUBRESOURCE_METHODS)
    verb: Verb = "update" if request.method == "PUT" else "patch"
    _check(request, verb, target)
    body = await bodies.read_body(request, patch=request.method == "PATCH")
    pinned = _pins_resource_version(body)  # a version the client named is a precondition: no retry
    for attempt in range(PATCH_ATTEMPTS):
        deployment = await _read_deployment(request, target)
        document = body if request.method == "PUT" else merge_patch(scale.scale_of(deployment), body)
        try:
            replicas, resource_version = scale.replicas_from_scale(document)
        except scale.ScaleInvalid as e:
            raise invalid("Scale", target.name, e.problems) from None
        _check(request, verb, target, existing=deployment)
        try:
            stored = await run_store(store.update, _with_replicas(deployment, replicas, resource_version))
        except ApiError as e:
            if e.reason != Conflict.reason or pinned or attempt == PATCH_ATTEMPTS - 1:
                raise
            continue
        return _json(scale.scale_of(stored))
    raise AssertionError("unreachable: the last attempt re-raises")


def route_handlers(group_version: str) -> tuple[Handler, Handler, Handler]:
    """The collection, object and subresource handlers for one group/version prefix."""
    return (
        partial(collection, group_version),
        partial(item, group_version),
        partial(subresource, group_version),
    )
