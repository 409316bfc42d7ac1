"""The fake API server's HTTP face: Kubernetes' REST paths over `ClusterState`, on loopback.

`FakeKube` runs one server in a thread of its own (with its own event loop), so synchronous
tests, asyncio tests and the official client's blocking calls can all use it; several
instances stand for several clusters. It is stopped by `stop()` (or leaving its `with`
block), which closes the listening socket and joins the thread.

Paths served: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}/{version}`, and for every
served resource `[/namespaces/{ns}]/{plural}[/{name}[/status]]` with GET (get, list with
`labelSelector`), POST, PUT, PATCH (server-side apply, and JSON merge patch) and DELETE.
Requests need `Authorization: Bearer <token>` (401 otherwise).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from aiohttp import web

from laneway.testing.fake_kube.state import ApiFailure, ClusterState, Served
from laneway.testing.loopback import ThreadedApp

_APPLY = "application/apply-patch+yaml"
_MERGE = "application/merge-patch+json"


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


class FakeKube:
    """One fake cluster's API server. `kubeconfig()` is the text a Secret would hold."""

    def __init__(self, *, name: str = "fake", version: str = "1.34", dra: bool = True, token: str = "fake-token") -> None:
        self.name = name
        self.token = token
        self.state = ClusterState(version=version, dra=dra)
        self.requests: list[tuple[str, str]] = []
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = ThreadedApp(app, name=f"fake API server {name}")

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeKube:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def kubeconfig(self) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": self.name, "cluster": {"server": self.url}}],
                "users": [{"name": "laneway", "user": {"token": self.token}}],
                "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "laneway"}}],
                "current-context": self.name,
            }
        )

    # --- direct access for tests (the cluster's controllers, played by the test) ---------

    def served(self, api_version: str, plural: str) -> Served:
        group, _, version = api_version.rpartition("/")
        return self.state.resolve(group, version, plural)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (status included), as a controller on the cluster would."""
        api_version = obj["apiVersion"]
        plural = next(s.plural for s in self.state.served.values() if s.group_version == api_version and s.kind == obj["kind"])
        served = self.served(api_version, plural)
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        try:
            current = self.state.get(served, namespace, meta["name"])
        except ApiFailure:
            created = self.state.create(served, namespace, obj, manager="test")
            if obj.get("status"):
                return self.state.replace(served, namespace, meta["name"], {"status": obj["status"]}, status_only=True)
            return created
        body = {**obj, "metadata": {**meta, "resourceVersion": current["metadata"]["resourceVersion"]}}
        self.state.replace(served, namespace, meta["name"], body, status_only=False, manager="test")
        return self.state.replace(served, namespace, meta["name"], {"status": obj.get("status") or {}}, status_only=True)

    def set_status(self, api_version: str, plural: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return self.state.replace(self.served(api_version, plural), namespace, name, {"status": status}, status_only=True)

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.state.get(self.served(api_version, plural), namespace, name)
        except ApiFailure:
            return None

    def names(self, api_version: str, plural: str, namespace: str | None = None) -> list[str]:
        try:
            served = self.served(api_version, plural)
        except ApiFailure:
            return []
        return [o["metadata"]["name"] for o in self.state.list(served, namespace, None)["items"]]

    def install_crds(self, crds: list[dict[str, Any]]) -> None:
        served = self.served("apiextensions.k8s.io/v1", "customresourcedefinitions")
        for crd in crds:
            self.state.create(served, "", copy.deepcopy(crd), manager="test")

    # --- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._failure(ApiFailure(401, "Unauthorized", "Unauthorized"))
        try:
            body = await self._route(request)
        except ApiFailure as failure:
            return self._failure(failure)
        return web.json_response(body)

    @staticmethod
    def _failure(failure: ApiFailure) -> web.Response:
        return web.json_response(failure.status(), status=failure.code)

    async def _route(self, request: web.Request) -> dict[str, Any]:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            major, minor = self.state.version.split(".")[:2]
            return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0", "platform": "linux/amd64"}
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"]}
        if parts == ["apis"]:
            return self._group_list()
        if parts[:1] == ["api"] and len(parts) == 2:
            return self._resource_list("", parts[1])
        if parts[:1] == ["apis"] and len(parts) == 3:
            return self._resource_list(parts[1], parts[2])
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
        return await self._resource(request, group, version, rest)

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for s in self.state.served.values():
            if s.group:
                versions = groups.setdefault(s.group, [])
                if s.version not in versions:
                    versions.append(s.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in sorted(groups.items())
            ],
        }

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        served = [s for s in self.state.served.values() if s.group == group and s.version == version]
        if not served:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
        resources = []
        for s in served:
            resources.append({"name": s.plural, "kind": s.kind, "namespaced": s.namespaced, "verbs": ["create", "delete", "get", "list", "patch", "update"]})
            resources += [{"name": f"{s.plural}/{sub}", "kind": s.kind, "namespaced": s.namespaced, "verbs": ["get", "patch", "update"]} for sub in sorted(s.subresources)]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": served[0].group_version, "resources": resources}

    async def _resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> dict[str, Any]:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        served = self.state.resolve(group, version, plural)
        if served.namespaced and name is not None and namespace is None:
            raise ApiFailure(404, "NotFound", f"{plural} is namespaced: use /namespaces/{{namespace}}/{plural}/{name}")
        if sub is not None and sub not in served.subresources:
            raise ApiFailure(404, "NotFound", f"the server could not find the requested resource ({plural}/{sub})")
        ns = namespace or ""
        method = request.method
        if method == "GET":
            if name is None:
                return self.state.list(served, namespace, request.query.get("labelSelector"))
            return self.state.get(served, ns, name)
        body = await self._body(request)
        if method == "POST" and name is None:
            return self.state.create(served, ns, body, manager=request.query.get("fieldManager", "unknown"))
        if name is None:
            raise ApiFailure(405, "MethodNotAllowed", f"{method} needs an object name")
        if method == "PUT":
            return self.state.replace(served, ns, name, body, status_only=sub == "status")
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type == _APPLY:
                if sub is not None:
                    raise ApiFailure(415, "UnsupportedMediaType", "this fake applies to the main resource only")
                return self.state.apply(
                    served, ns, name, body, manager=request.query.get("fieldManager"), force=request.query.get("force") == "true"
                )
            if content_type in (_MERGE, "application/strategic-merge-patch+json"):
                current = self.state.get(served, ns, name)
                merged = _merge(current, body)
                return self.state.replace(served, ns, name, merged, status_only=sub == "status")
            raise ApiFailure(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: {_APPLY}, {_MERGE}")
        if method == "DELETE":
            self.state.delete(served, ns, name)
            return {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name, "kind": plural}}
        raise ApiFailure(405, "MethodNotAllowed", f"{method} is not allowed here")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        try:
            parsed = yaml.safe_load(raw.decode()) if b"{" not in raw[:1] else json.loads(raw)
        except (ValueError, yaml.YAMLError):
            raise ApiFailure(400, "BadRequest", "the request body is neither JSON nor YAML") from None
        if not isinstance(parsed, dict):
            raise ApiFailure(400, "BadRequest", "the request body must be an object")
        return parsed
