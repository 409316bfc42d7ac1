"""`/apis/laneway.dev/v1alpha1/tokens`: token management for `laneway token ...`.

    GET    /tokens                 list: every token for an admin, only itself for anyone else
    POST   /tokens                 create (admin): {"role", "namespaces", "description", "ttl": "30d"}
    GET    /tokens/{id}            one token (admin, or the token itself)
    DELETE /tokens/{id}            revoke (admin, or the token itself); effective on the next request
    POST   /tokens/{id}/rotate     rotate (admin): a successor with the same grant, the old one revoked

A created or rotated token is returned in that response only, the one time it is ever shown;
the store keeps its SHA-256. Listings show ids (the first 12 hex digits of the hash), grants
and times, never a token. `{id}` may be `admin`: the data directory's admin token, which a
rotation rewrites in place (`laneway token rotate-admin`). The lifecycle rules are in
`token_admin.py`; what a role may do elsewhere is `authz.py`'s.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from laneway.api.errors import FieldProblem
from laneway.api.kinds.common import parse_duration
from laneway.server import bodies
from laneway.server.auth import check_token_request, create_token, hash_token, utc_now
from laneway.server.authz import may_manage_tokens
from laneway.server.context import grant_of, store_of
from laneway.server.errors import (
    ApiError,
    forbidden,
    invalid,
    method_not_allowed,
    not_found,
)
from laneway.server.storecalls import run_store
from laneway.server.token_admin import (
    AdminFile,
    TokenNotFound,
    TokenRefused,
    resolve,
    revoke,
    rotate,
    token_view,
    visible_tokens,
)
from laneway.store.base import TokenRecord

ADMIN_FILE: web.AppKey[AdminFile] = web.AppKey("laneway_admin_file", AdminFile)
MAX_TTL = timedelta(days=3650)


def _require_admin(request: web.Request) -> None:
    decision = may_manage_tokens(grant_of(request))
    if not decision.allowed:
        raise forbidden(decision.message, kind="tokens")


def ttl_of(value: object, problems: list[FieldProblem]) -> timedelta | None:
    """A token's lifetime from a duration such as '12h' or '30d'; None (never expires) when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(FieldProblem("ttl", "must be a duration string such as '12h' or '30d'"))
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        problems.append(FieldProblem("ttl", str(e)))
        return None
    # Bounded before it becomes a timedelta: '99999999999d' would overflow one (a 500, not a 422).
    if not 0 < seconds <= MAX_TTL.total_seconds():
        problems.append(FieldProblem("ttl", f"must be more than 0s and at most {MAX_TTL.days}d; got {value!r}"))
        return None
    return timedelta(seconds=seconds)


def _created(token: str, record: TokenRecord | None, extra: dict[str, object] | None = None) -> web.Response:
    """201 with the new token (its only showing) and its view."""
    view = token_view(record, utc_now()) if record is not None else {}
    return web.json_response({"kind": "Token", "token": token, **view, **(extra or {})}, status=201)


async def tokens(request: web.Request) -> web.Response:
    store = store_of(request)
    if request.method == "GET":
        now = utc_now()
        records = await run_store(visible_tokens, store, grant_of(request))
        return web.json_response({"kind": "TokenList", "items": [token_view(r, now) for r in records]})
    if request.method != "POST":
        raise method_not_allowed(
            f"{request.method} is not served on tokens; use GET (list) or POST (create)", allow=("GET", "POST")
        )
    _require_admin(request)
    body = bodies.require_mapping(await bodies.read_body(request), "the token request")
    role = body.get("role")
    namespaces = body.get("namespaces", [])
    description = body.get("description", "")
    problems = check_token_request(role, namespaces)
    if not isinstance(description, str):
        problems.append(FieldProblem("description", "must be a string"))
    ttl = ttl_of(body.get("ttl"), problems)
    if problems:
        raise invalid("Token", None, problems)
    token = await run_store(create_token, store, role=str(role), namespaces=namespaces, description=description, ttl=ttl)
    return _created(token, await run_store(store.find_token, hash_token(token)))


async def _resolve(request: web.Request) -> TokenRecord:
    try:
        return await run_store(resolve, store_of(request), grant_of(request), request.match_info["id"],
                               request.app[ADMIN_FILE])
    except TokenNotFound as e:
        raise not_found(str(e), kind="tokens", name=request.match_info["id"]) from None


def _refused(e: TokenRefused) -> ApiError:
    return ApiError(409, "Conflict", str(e), kind="tokens")


async def token_item(request: web.Request) -> web.Response:
    if request.method not in ("GET", "DELETE"):
        raise method_not_allowed(
            f"{request.method} is not served on a token; use GET, or DELETE to revoke it", allow=("GET", "DELETE")
        )
    record = await _resolve(request)
    if request.method == "GET":
        return web.json_response({"kind": "Token", **token_view(record, utc_now())})
    try:
        revoked = await run_store(revoke, store_of(request), record, request.app[ADMIN_FILE])
    except TokenRefused as e:
        raise _refused(e) from None
    return web.json_response({"kind": "Token", **token_view(revoked, utc_now())})


async def token_rotate(request: web.Request) -> web.Response:
    if request.method != "POST":
        raise method_not_allowed(f"{request.method} is not served on rotate; use POST", allow=("POST",))
    _require_admin(request)
    record = await _resolve(request)
    problems: list[FieldProblem] = []
    ttl = None
    if (await bodies.read_raw(request)).strip():
        ttl = ttl_of(bodies.require_mapping(await bodies.read_body(request), "the rotation request").get("ttl"), problems)
    if problems:
        raise invalid("Token", None, problems)
    try:
        rotated = await run_store(rotate, store_of(request), record, request.app[ADMIN_FILE], ttl=ttl)
    except TokenRefused as e:
        raise _refused(e) from None
    extra: dict[str, object] = {"writtenTo": str(rotated.written_to)} if rotated.written_to is not None else {}
    return _created(rotated.token, rotated.record, extra)
