"""The platform lane's side of machines: minting join tokens and removing machines.

    POST   /apis/laneway.dev/v1alpha1/inferenceclusters/{name}/jointokens   {"ttl": "1h"}
    DELETE /apis/laneway.dev/v1alpha1/inferenceclusters/{name}/machines/{machine}

Both are platform-lane acts (a platform or admin token; `authz.authorize` on the cluster decides,
as for any write of a cluster-scoped kind). Removing a machine revokes its credential at once
(its next heartbeat is refused), drops it from the cluster's status and ends its heartbeat, so
its replicas go to other machines of its pool.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from laneway.api.errors import FieldProblem
from laneway.api.kinds.platform import InferenceCluster, MachineStatus
from laneway.api.registry import by_kind
from laneway.drivers.machines.book import ClusterGone, edit_machines, lease_name, machines_cluster
from laneway.drivers.machines.credentials import DEFAULT_JOIN_TTL, MachineScope, mint_join_token, revoke_machine
from laneway.server import bodies
from laneway.server.agent_api import AGENT_CA_HASH
from laneway.server.authz import Access, Verb, authorize
from laneway.server.context import grant_of, store_of
from laneway.server.errors import forbidden, invalid, not_found
from laneway.server.storecalls import run_store
from laneway.server.token_admin import token_id
from laneway.server.tokens_api import ttl_of
from laneway.store.base import Store


def _require_platform(request: web.Request, verb: Verb) -> None:
    decision = authorize(grant_of(request), Access(verb=verb, kind=by_kind("InferenceCluster")))
    if not decision.allowed:
        raise forbidden(decision.message, kind="inferenceclusters", name=request.match_info["name"])


def _cluster(store: Store, name: str) -> InferenceCluster:
    try:
        return machines_cluster(store, name)
    except ClusterGone as e:
        raise not_found(f"{e}: join tokens are minted for clusters of source Machines", kind="inferenceclusters",
                        name=name) from None


async def join_tokens(request: web.Request) -> web.Response:
    _require_platform(request, "update")
    name = request.match_info["name"]
    problems: list[FieldProblem] = []
    ttl: timedelta | None = None
    if (await bodies.read_raw(request)).strip():
        ttl = ttl_of(bodies.require_mapping(await bodies.read_body(request), "the join token request").get("ttl"), problems)
    if problems:
        raise invalid("JoinToken", None, problems)
    store = store_of(request)
    await run_store(_cluster, store, name)
    token, record = await run_store(mint_join_token, store, name, ttl=ttl or DEFAULT_JOIN_TTL)
    body = {"kind": "JoinToken", "cluster": name, "token": token, "id": token_id(record), "expires": record.expires}
    if request.app[AGENT_CA_HASH]:
        body["caCertHash"] = request.app[AGENT_CA_HASH]  # for `laneway agent --ca-cert-hash`
    return web.json_response(body, status=201)


def _remove(store: Store, cluster_name: str, machine: str) -> dict[str, object]:
    cluster = _cluster(store, cluster_name)
    if not any(m.name == machine for m in cluster.status.machines):
        known = ", ".join(m.name for m in cluster.status.machines) or "none"
        raise not_found(f"cluster {cluster_name} has no machine {machine!r}; its machines: {known}", kind="machines", name=machine)
    revoked = revoke_machine(store, MachineScope(cluster_name, machine))

    def edit(_c: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus]:
        return [m for m in machines if m.name != machine]

    edit_machines(store, cluster_name, edit)
    store.release_lease(lease_name(cluster_name, machine), machine)
    return {"kind": "MachineRemoval", "cluster": cluster_name, "machine": machine, "credentialsRevoked": revoked}


async def remove_machine(request: web.Request) -> web.Response:
    _require_platform(request, "update")
    body = await run_store(_remove, store_of(request), request.match_info["name"], request.match_info["machine"])
    return web.json_response(body)


def add_machine_routes(app: web.Application, group_prefix: str) -> None:
    """Registered before the generic resource routes, which would take these paths for subresources."""
    app.router.add_post(f"{group_prefix}/inferenceclusters/{{name}}/jointokens", join_tokens)
    app.router.add_delete(f"{group_prefix}/inferenceclusters/{{name}}/machines/{{machine}}", remove_machine)
