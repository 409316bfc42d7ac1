"""`/apis/laneway.dev/v1alpha1/tokens`: admin-only token management for `laneway token create`.

POST `{"role": "team", "namespaces": ["ml-team"], "description": "..."}` mints a token and
returns it in the response, the only time it is ever shown; the store keeps its SHA-256. GET
lists the grants (role, namespaces, description, created, and the first 12 hex digits of the
hash as an id), never a token.
"""

from __future__ import annotations

from aiohttp import web

from laneway.server import bodies
from laneway.api.errors import FieldProblem
from laneway.server.auth import check_token_request, create_token, hash_token
from laneway.server.authz import may_manage_tokens
from laneway.server.context import grant_of, store_of
from laneway.server.storecalls import run_store
from laneway.server.errors import forbidden, invalid, method_not_allowed
from laneway.store.base import TokenRecord

TOKEN_ID_LENGTH = 12


def _grant_view(record: TokenRecord) -> dict[str, object]:
    return {
        "id": record.token_sha256[:TOKEN_ID_LENGTH],
        "role": record.role,
        "namespaces": list(record.namespaces),
        "description": record.description,
        "created": record.created,
    }


async def tokens(request: web.Request) -> web.Response:
    decision = may_manage_tokens(grant_of(request))
    if not decision.allowed:
        raise forbidden(decision.message, kind="tokens")
    store = store_of(request)
    if request.method == "GET":
        return web.json_response({"kind": "TokenList", "items": [_grant_view(r) for r in await run_store(store.list_tokens)]})
    if request.method != "POST":
        raise method_not_allowed(f"{request.method} is not served on tokens; use GET (list) or POST (create)", allow=("GET", "POST"))
    body = bodies.require_mapping(await bodies.read_body(request), "the token request")
    role = body.get("role")
    namespaces = body.get("namespaces", [])
    description = body.get("description", "")
    problems = check_token_request(role, namespaces)
    if not isinstance(description, str):
        problems.append(FieldProblem("description", "must be a string"))
    if problems:
        raise invalid("Token", None, problems)
    token = await run_store(create_token, store, role=str(role), namespaces=namespaces, description=description)
    record = await run_store(store.find_token, hash_token(token))
    view = _grant_view(record) if record is not None else {"role": role, "namespaces": namespaces}
    return web.json_response({"kind": "Token", "token": token, **view}, status=201)
