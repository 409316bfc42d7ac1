"""A fake GKE API server on loopback: the part of `container.googleapis.com/v1` that laneway's
GKE provisioner calls, for the official `google-cloud-container` client (REST transport) to
talk to through `client_options.api_endpoint`.

What it models, because the provisioner depends on it:

- **authentication**: every `/v1` call needs a bearer token, either one this server issued at
  its OAuth token endpoint (`/token`, the `token_uri` of `service_account_info()`: a JWT-bearer
  grant whose assertion must be signed by the service account's key) or a self-signed JWT of
  that service account (what the client sends when it uses JWT access). Anything else is 401,
  so a client that fell back to other credentials fails.
- **long-running operations**: create/delete of clusters and node pools and `setSize` return an
  Operation that is RUNNING for `ticks` further API calls, then DONE; meanwhile the cluster is
  PROVISIONING / RECONCILING / STOPPING and a second mutating call on the same cluster is
  refused (400 FAILED_PRECONDITION), as GKE allows one operation per cluster at a time.
- **provider errors**: a machine type not in `machine_types` is refused at once (400
  INVALID_ARGUMENT, GKE's wording); accelerators beyond `accelerator_quota` make the operation
  finish DONE with a RESOURCE_EXHAUSTED error and the node pool ERROR (or, for a resize, keep
  its old size), as GKE reports quota.

What it does not model: zones versus regions (a location is a name), networks, versions and
upgrades, autoscaling behaviour (the setting is stored), and the node VMs themselves.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from laneway.testing.loopback import ThreadedApp

DEFAULT_MACHINE_TYPES = frozenset({
    "e2-standard-4", "n1-standard-4", "n1-standard-8", "g2-standard-4", "g2-standard-8",
    "a2-highgpu-1g", "a2-highgpu-2g", "a2-highgpu-8g", "a3-highgpu-8g",
})
CA_CERTIFICATE = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UtZ2tlLWNhCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"


class GkeError(Exception):
    """An error answer in Google's JSON error shape."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def response(self) -> web.Response:
        return web.json_response({"error": {"code": self.code, "message": self.message, "status": self.status}}, status=self.code)


@dataclass
class _Operation:
    body: dict[str, Any]
    cluster: tuple[str, str, str]
    pool: str | None
    ticks: int
    error: dict[str, Any] | None = None


@dataclass
class _ServiceAccount:
    email: str
    key_id: str
    private_pem: str
    public_pem: str


@dataclass
class GkeState:
    """The fake project's clusters (each a GKE Cluster as JSON, node pools inside) and operations."""

    project: str
    machine_types: frozenset[str]
    accelerator_quota: dict[str, int]
    ticks: int
    kube_endpoint: str = "127.0.0.1"
    clusters: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, _Operation] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- operations ---------------------------------------------------------------------

    def tick(self) -> None:
        """One API call has passed: running operations come one step closer to DONE."""
        for op in self.operations.values():
            if op.body["status"] == "DONE":
                continue
            op.ticks -= 1
            if op.ticks <= 0:
                self._finish(op)

    def _start(self, kind: str, key: tuple[str, str, str], pool: str | None = None, *, target: str) -> dict[str, Any]:
        project, location, _ = key
        name = f"operation-{next(self._ids)}-{secrets.token_hex(4)}"
        body = {
            "name": name,
            "zone": location,
            "location": location,
            "operationType": kind,
            "status": "RUNNING",
            "selfLink": f"/v1/projects/{project}/locations/{location}/operations/{name}",
            "targetLink": target,
            "startTime": "2026-01-01T00:00:00Z",
        }
        self.operations[name] = _Operation(body=body, cluster=key, pool=pool, ticks=self.ticks)
        return copy.deepcopy(body)

    def _busy(self, key: tuple[str, str, str]) -> None:
        for name, op in self.operations.items():
            if op.cluster == key and op.body["status"] != "DONE":
                raise GkeError(400, "FAILED_PRECONDITION", f"Cluster is running incompatible operation {name}.")

    def _finish(self, op: _Operation) -> None:
        op.body["status"] = "DONE"
        op.body["endTime"] = "2026-01-01T00:05:00Z"
        cluster = self.clusters.get(op.cluster)
        kind = op.body["operationType"]
        if kind == "DELETE_CLUSTER":
            self.clusters.pop(op.cluster, None)
            return
        if cluster is None:
            return
        pools = cluster.setdefault("nodePools", [])
        pool = next((p for p in pools if p["name"] == op.pool), None)
        if kind == "DELETE_NODE_POOL":
            cluster["nodePools"] = [p for p in pools if p["name"] != op.pool]
        elif kind in ("CREATE_NODE_POOL", "SET_NODE_POOL_SIZE") and pool is not None:
            want = int(pool.get("_pendingSize", pool.get("initialNodeCount", 0)))
            short = self._quota_short(op.cluster[0], pool, want)
            if short:
                op.error = {"code": 8, "message": short}
                op.body["error"] = op.error
                op.body["statusMessage"] = short
                if kind == "CREATE_NODE_POOL":
                    pool["status"], pool["statusMessage"] = "ERROR", short
                else:
                    pool["status"] = "RUNNING"
            else:
                pool["status"] = "RUNNING"
                pool["_size"] = want
            pool.pop("_pendingSize", None)
        elif kind == "CREATE_CLUSTER":
            for p in pools:
                p["status"], p["_size"] = "RUNNING", int(p.get("initialNodeCount", 0))
        cluster["status"] = "RUNNING"

    # --- accelerators and quota ---------------------------------------------------------

    @staticmethod
    def _accelerators(pool: dict[str, Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for acc in pool.get("config", {}).get("accelerators", []):
            kind = str(acc.get("acceleratorType", ""))
            out[kind] = out.get(kind, 0) + int(acc.get("acceleratorCount", 0))
        return out

    def _quota_short(self, project: str, pool: dict[str, Any], nodes: int) -> str:
        for kind, per_node in self._accelerators(pool).items():
            limit = self.accelerator_quota.get(kind)
            if limit is None:
                continue
            used = sum(
                self._accelerators(p).get(kind, 0) * int(p.get("_size", 0))
                for key, c in self.clusters.items() if key[0] == project
                for p in c.get("nodePools", []) if p is not pool
            )
            wanted = per_node * nodes
            if used + wanted > limit:
                resource = kind.upper().replace("-", "_") + "_GPUS"
                return (
                    f"Insufficient regional quota to satisfy request: resource \"{resource}\": request requires "
                    f"'{wanted}.0' and is short '{used + wanted - limit}.0'. project has a quota of '{limit}.0' "
                    f"with '{max(limit - used, 0)}.0' available."
                )
        return ""

    # --- clusters and node pools --------------------------------------------------------

    def _check_pool(self, pool: dict[str, Any], location: str) -> None:
        name = pool.get("name")
        if not isinstance(name, str) or not name:
            raise GkeError(400, "INVALID_ARGUMENT", "Node_pool.name must be specified.")
        machine = pool.get("config", {}).get("machineType", "e2-medium")
        if machine not in self.machine_types | {"e2-medium"}:
            raise GkeError(400, "INVALID_ARGUMENT", f"Machine type \"{machine}\" does not exist in zone \"{location}\".")

    def cluster(self, key: tuple[str, str, str]) -> dict[str, Any]:
        found = self.clusters.get(key)
        if found is None:
            raise GkeError(404, "NOT_FOUND", f"Not found: projects/{key[0]}/locations/{key[1]}/clusters/{key[2]}.")
        return found

    def create_cluster(self, project: str, location: str, body: dict[str, Any]) -> dict[str, Any]:
        cluster = copy.deepcopy(body.get("cluster") or {})
        name = cluster.get("name")
        if not isinstance(name, str) or not name:
            raise GkeError(400, "INVALID_ARGUMENT", "Cluster.name must be specified.")
        key = (project, location, name)
        if key in self.clusters:
            raise GkeError(409, "ALREADY_EXISTS", f"Already exists: projects/{project}/locations/{location}/clusters/{name}.")
        pools = cluster.get("nodePools") or []
        if not pools and not cluster.get("initialNodeCount"):
            raise GkeError(400, "INVALID_ARGUMENT", "Cluster.initial_node_count must be greater than zero.")
        for pool in pools:
            self._check_pool(pool, location)
            pool["status"] = "PROVISIONING"
        self_link = f"/v1/projects/{project}/locations/{location}/clusters/{name}"
        cluster.update({
            "status": "PROVISIONING", "location": location, "selfLink": self_link, "endpoint": self.kube_endpoint,
            "masterAuth": {"clusterCaCertificate": CA_CERTIFICATE},
        })
        self.clusters[key] = cluster
        return self._start("CREATE_CLUSTER", key, target=self_link)

    def delete_cluster(self, key: tuple[str, str, str]) -> dict[str, Any]:
        cluster = self.cluster(key)
        self._busy(key)
        cluster["status"] = "STOPPING"
        return self._start("DELETE_CLUSTER", key, target=cluster["selfLink"])

    def pool(self, key: tuple[str, str, str], name: str) -> dict[str, Any]:
        cluster = self.cluster(key)
        pools: list[dict[str, Any]] = cluster.get("nodePools", [])
        for pool in pools:
            if pool["name"] == name:
                return pool
        raise GkeError(404, "NOT_FOUND", f"Not found: projects/{key[0]}/locations/{key[1]}/clusters/{key[2]}/nodePools/{name}.")

    def create_pool(self, key: tuple[str, str, str], body: dict[str, Any]) -> dict[str, Any]:
        cluster = self.cluster(key)
        pool = copy.deepcopy(body.get("nodePool") or {})
        self._check_pool(pool, key[1])
        if any(p["name"] == pool["name"] for p in cluster.get("nodePools", [])):
            raise GkeError(409, "ALREADY_EXISTS", f"Already exists: node pool {pool['name']}.")
        self._busy(key)
        pool["status"] = "PROVISIONING"
        cluster.setdefault("nodePools", []).append(pool)
        cluster["status"] = "RECONCILING"
        return self._start("CREATE_NODE_POOL", key, pool["name"], target=f"{cluster['selfLink']}/nodePools/{pool['name']}")

    def delete_pool(self, key: tuple[str, str, str], name: str) -> dict[str, Any]:
        pool = self.pool(key, name)
        self._busy(key)
        pool["status"] = "STOPPING"
        self.cluster(key)["status"] = "RECONCILING"
        return self._start("DELETE_NODE_POOL", key, name, target=f"{self.cluster(key)['selfLink']}/nodePools/{name}")

    def set_size(self, key: tuple[str, str, str], name: str, body: dict[str, Any]) -> dict[str, Any]:
        pool = self.pool(key, name)
        count = body.get("nodeCount", 0)
        if not isinstance(count, int) or count < 0:
            raise GkeError(400, "INVALID_ARGUMENT", "node_count must be a non-negative integer.")
        self._busy(key)
        pool["status"], pool["_pendingSize"] = "RECONCILING", count
        self.cluster(key)["status"] = "RECONCILING"
        return self._start("SET_NODE_POOL_SIZE", key, name, target=f"{self.cluster(key)['selfLink']}/nodePools/{name}")

    def set_autoscaling(self, key: tuple[str, str, str], name: str, body: dict[str, Any]) -> dict[str, Any]:
        pool = self.pool(key, name)
        self._busy(key)
        pool["autoscaling"] = body.get("autoscaling") or {}
        return self._start("SET_NODE_POOL_MANAGEMENT", key, name, target=f"{self.cluster(key)['selfLink']}/nodePools/{name}")


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API returns it: the fake's own bookkeeping (`_size`) left out."""
    out = {k: v for k, v in obj.items() if not k.startswith("_")}
    if "nodePools" in out:
        out["nodePools"] = [_public(p) for p in out["nodePools"]]
    return out


class FakeGke:
    """The fake GKE API; `url` is the `api_endpoint`, `service_account_info()` the key file."""

    def __init__(
        self,
        *,
        project: str = "laneway-test",
        machine_types: frozenset[str] = DEFAULT_MACHINE_TYPES,
        accelerator_quota: dict[str, int] | None = None,
        ticks: int = 2,
        kube_endpoint: str = "127.0.0.1",
    ) -> None:
        """`kube_endpoint` is the address a created cluster's API is reported at (GKE gives a
        public IP; a loopback address here, so nothing that follows it leaves the machine)."""
        self.state = GkeState(
            project=project, machine_types=machine_types, accelerator_quota=dict(accelerator_quota or {}), ticks=ticks,
            kube_endpoint=kube_endpoint,
        )
        self.requests: list[tuple[str, str]] = []
        self.issued: set[str] = set()
        self.refused: list[str] = []  # the paths of calls refused for their credentials
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.account = _ServiceAccount(
            email=f"laneway-provisioner@{project}.iam.gserviceaccount.com",
            key_id=secrets.token_hex(20),
            private_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
            public_pem=key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        )
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_route("*", "/v1/{tail:.*}", self._handle)
        self._server = ThreadedApp(app, name="fake-gke")

    def start(self) -> FakeGke:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeGke:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    def service_account_info(self) -> dict[str, str]:
        """A service account key file (as GCP issues them) whose token endpoint is this server."""
        return {
            "type": "service_account",
            "project_id": self.state.project,
            "private_key_id": self.account.key_id,
            "private_key": self.account.private_pem,
            "client_email": self.account.email,
            "client_id": "100000000000000000001",
            "token_uri": f"{self.url}/token",
        }

    # --- direct reads for tests ---------------------------------------------------------

    def cluster_names(self) -> list[str]:
        return sorted(name for (_, _, name) in self.state.clusters)

    def node_pool(self, location: str, cluster: str, pool: str) -> dict[str, Any] | None:
        found = self.state.clusters.get((self.state.project, location, cluster))
        return next((copy.deepcopy(p) for p in (found or {}).get("nodePools", []) if p["name"] == pool), None)

    def node_count(self, location: str, cluster: str, pool: str) -> int | None:
        """The nodes the pool runs now (GKE's instance groups), None when there is no such pool."""
        found = self.node_pool(location, cluster, pool)
        return None if found is None else int(found.get("_size", 0))

    # --- HTTP ---------------------------------------------------------------------------

    def _verify_jwt(self, token: str) -> bool:
        from google.auth import jwt

        try:
            claims = jwt.decode(token, certs={self.account.key_id: self.account.public_pem}, verify=True, audience=None)
        except (ValueError, KeyError):
            return False
        return bool(claims.get("iss") == self.account.email)

    async def _token(self, request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        assertion = (form.get("assertion") or [""])[0]
        if (form.get("grant_type") or [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not self._verify_jwt(assertion):
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.issued.add(token)
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ")
        return token in self.issued or self._verify_jwt(token)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if not self._authorized(request):
            self.refused.append(request.path)
            return GkeError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.").response()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
            self.state.tick()
            return web.json_response(self._route(request.method, request.path.removeprefix("/v1/"), body))
        except GkeError as error:
            return error.response()
        except json.JSONDecodeError:
            return GkeError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.").response()

    def _route(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        tail, _, verb = path.partition(":")
        parts = tail.split("/")
        if len(parts) < 4 or parts[0] != "projects" or parts[2] != "locations":
            raise GkeError(404, "NOT_FOUND", f"unknown path /v1/{path}")
        project, location, rest = parts[1], parts[3], parts[4:]
        if project != self.state.project:
            raise GkeError(403, "PERMISSION_DENIED", f"Permission denied on resource project {project}.")
        s = self.state
        match (method, rest, verb):
            case ("POST", ["clusters"], ""):
                return s.create_cluster(project, location, body)
            case ("GET", ["clusters"], ""):
                found = [_public(c) for (p, loc, _), c in sorted(s.clusters.items()) if p == project and loc in (location, "-")]
                return {"clusters": found}
            case ("GET", ["clusters", name], ""):
                return _public(s.cluster((project, location, name)))
            case ("DELETE", ["clusters", name], ""):
                return s.delete_cluster((project, location, name))
            case ("POST", ["clusters", name, "nodePools"], ""):
                return s.create_pool((project, location, name), body)
            case ("GET", ["clusters", name, "nodePools"], ""):
                return {"nodePools": [_public(p) for p in s.cluster((project, location, name)).get("nodePools", [])]}
            case ("GET", ["clusters", name, "nodePools", pool], ""):
                return _public(s.pool((project, location, name), pool))
            case ("DELETE", ["clusters", name, "nodePools", pool], ""):
                return s.delete_pool((project, location, name), pool)
            case ("POST", ["clusters", name, "nodePools", pool], "setSize"):
                return s.set_size((project, location, name), pool, body)
            case ("POST", ["clusters", name, "nodePools", pool], "setAutoscaling"):
                return s.set_autoscaling((project, location, name), pool, body)
            case ("GET", ["operations", name], ""):
                op = s.operations.get(name)
                if op is None:
                    raise GkeError(404, "NOT_FOUND", f"Not found: operation {name}.")
                return copy.deepcopy(op.body)
        raise GkeError(404, "NOT_FOUND", f"{method} /v1/{path} is not served by the fake GKE API")


@contextmanager
def fake_gke(**options: Any) -> Iterator[FakeGke]:
    """A started FakeGke, stopped on exit."""
    server = FakeGke(**options).start()
    try:
        yield server
    finally:
        server.stop()
