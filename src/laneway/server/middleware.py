"""Two middlewares every request passes: errors as Status objects, then bearer-token auth.

The error middleware is the one place a refusal becomes a response: an `ApiError` is
rendered as its Status, aiohttp's own 404/405/413 become Status objects too, and anything
unexpected is logged with its traceback and answered 500 with no internals. Auth applies to
everything under `/api` and `/apis`; `/healthz`, `/version` and `/openapi/v3` are public.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from laneway.drivers.machines.protocol import AGENT_PREFIX
from laneway.server.auth import UNKNOWN_TOKEN, bearer_token, check_token
from laneway.server.context import GRANT, store_of
from laneway.server.errors import ApiError, forbidden, internal_error, unauthorized

log = logging.getLogger("laneway.server")

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    408: "Timeout",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
}


def status_response(error: ApiError) -> web.Response:
    headers: dict[str, str] = {}
    if error.code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="laneway"'
    if error.code == 405:
        headers["Allow"] = ", ".join(error.allow)
    response = web.json_response(error.status(), status=error.code, headers=headers)
    if error.code == 408:
        response.force_close()  # the rest of a trickled body is never waited for
    return response


def looks_like_inference(path: str) -> bool:
    """An OpenAI-style path (`/v1/chat/completions`, a service's `/ml-team/chat/v1/models`):
    meant for the gateway, sent to the API's port (pure)."""
    return not path.startswith(("/api/", "/apis/")) and ("/v1/" in path or path.endswith("/v1"))


def not_found_message(path: str) -> str:
    """What a 404 of an unknown path says: where resources live, or that inference goes to the gateway."""
    if looks_like_inference(path):
        return (
            f"this is laneway's control-plane API, not its gateway: {path} is an inference path; send it to the "
            "gateway's address, which `laneway up` prints as `gateway` (port 8471 by default, the API's is 8470)"
        )
    return (
        f"the server has nothing at {path}: resources live under /apis/laneway.dev/v1alpha1 and "
        "/api/v1 (Secrets, namespaces); /openapi/v3 lists every path"
    )


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    code = exc.status
    if code == 404:
        message = not_found_message(request.path)
    elif code == 405:
        allow = tuple(m.strip() for m in exc.headers.get("Allow", "").split(",") if m.strip())
        message = f"{request.method} is not served at {request.path}" + (f"; use {', '.join(allow)}" if allow else "")
        return ApiError(code, _REASONS[code], message, allow=allow)
    elif code == 413:
        message = f"the request body is too large ({exc.text}); split the change into smaller objects"
    else:
        message = exc.text or exc.reason
    return ApiError(code, _REASONS.get(code, "BadRequest" if code < 500 else "InternalError"), message)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return status_response(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return status_response(_from_http_exception(request, e))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return status_response(internal_error())


PUBLIC_PATHS = frozenset({"/healthz", "/version", "/openapi/v3"})
MACHINE_ROLES = frozenset({"join", "machine"})
"""Roles of machines' tokens, which only the agent door (`agent_api.py`) accepts."""


def _needs_auth(path: str) -> bool:
    return path not in PUBLIC_PATHS and (path in ("/api", "/apis") or path.startswith(("/api/", "/apis/")))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _needs_auth(request.path):
        return await handler(request)
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise unauthorized(
            "this request carries no bearer token: send 'Authorization: Bearer <token>' (the CLI takes --token or "
            "LANEWAY_TOKEN; `laneway up` writes the admin token to its data directory)"
        )
    checked = await asyncio.to_thread(check_token, store_of(request), token)
    if checked.record is None:
        why = checked.refusal or UNKNOWN_TOKEN
        raise unauthorized(f"{why}: check it, or ask an admin for a new one (laneway token create)")
    if checked.record.role in MACHINE_ROLES:
        raise forbidden(
            f"a {checked.record.role} token opens no door of the API: it is for `laneway agent` on {AGENT_PREFIX} only; "
            "use a platform, team or admin token"
        )
    request[GRANT] = checked.record
    return await handler(request)
