"""What the server serves, for tools that ask before they act: discovery, namespaces, health, version.

The discovery documents have Kubernetes' shapes (`APIGroupList`, `APIResourceList`,
`APIVersions`), built from `laneway.api.registry.KINDS`, so a kind added there is served
and advertised with no change here. Namespaces have no object of their own: one exists
while something is stored in it, and a team token sees only its own.
"""

from __future__ import annotations

import asyncio
import logging
import platform
from typing import Any

from aiohttp import web

import laneway
from laneway.api.meta import API_GROUP, API_VERSION, GROUP_VERSION, check_dns1123_label
from laneway.api.registry import KINDS, KindInfo
from laneway.server.authz import can_read_namespace
from laneway.server.context import grant_of, store_of
from laneway.server.errors import bad_request, not_found
from laneway.server.storecalls import run_store
from laneway.server.targets import SUBRESOURCES

log = logging.getLogger(__name__)

OBJECT_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_resources(group_version: str) -> list[dict[str, Any]]:
    """The APIResource entries of one group/version: each kind and its subresources."""
    out: list[dict[str, Any]] = []
    for info in KINDS:
        if info.api_version != group_version:
            continue
        out.append(_resource(info))
        for sub, kinds in sorted(SUBRESOURCES.items()):
            if info.kind in kinds:
                out.append({**_resource(info), "name": f"{info.plural}/{sub}", "verbs": ["get", "patch", "update"]})
    return out


def _resource(info: KindInfo) -> dict[str, Any]:
    return {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": OBJECT_VERBS,
        "shortNames": list(info.short_names),
    }


async def group_list(request: web.Request) -> web.Response:
    version = {"groupVersion": GROUP_VERSION, "version": API_VERSION}
    return web.json_response(
        {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [{"name": API_GROUP, "versions": [version], "preferredVersion": version}],
        }
    )


async def core_versions(request: web.Request) -> web.Response:
    return web.json_response({"kind": "APIVersions", "versions": ["v1"]})


def resource_list(group_version: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
             "resources": api_resources(group_version)}
        )

    return handler


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}


async def namespaces(request: web.Request) -> web.Response:
    grant = grant_of(request)
    names = [ns for ns in await run_store(store_of(request).namespaces) if can_read_namespace(grant, ns)]
    return web.json_response(
        {"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": [_namespace(n) for n in names]}
    )


async def namespace(request: web.Request) -> web.Response:
    name = request.match_info["namespace"]
    try:
        check_dns1123_label(name, "namespace")
    except ValueError as e:
        raise bad_request(str(e)) from None
    grant = grant_of(request)
    if can_read_namespace(grant, name) and name in await run_store(store_of(request).namespaces):
        return web.json_response(_namespace(name))
    raise not_found(f'namespace "{name}" not found: a namespace exists once something is stored in it',
                    kind="namespaces", name=name)


async def whoami(request: web.Request) -> web.Response:
    """The caller's own grant: its role and the namespaces it is limited to (none: every one).

    Why: the CLI defaults `-n` to a team token's namespace when it has exactly one, so a team
    member does not pass `-n` on every command. Says nothing a caller does not already hold.
    """
    grant = grant_of(request)
    return web.json_response(
        {"apiVersion": GROUP_VERSION, "kind": "Identity", "role": grant.role, "namespaces": list(grant.namespaces)}
    )


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.to_thread(store_of(request).revision)
    except Exception:
        log.exception("health check: the store does not answer")
        return web.Response(status=503, text="store unavailable")
    return web.Response(text="ok")


async def version(request: web.Request) -> web.Response:
    major, minor, *_ = ([*laneway.__version__.split("."), "0", "0"])
    return web.json_response(
        {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{laneway.__version__}",
            "platform": f"{platform.system().lower()}/{platform.machine()}",
            "pythonVersion": platform.python_version(),
        }
    )
