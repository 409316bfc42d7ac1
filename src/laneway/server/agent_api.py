"""`/agent/v1`: the door `laneway agent` uses, and only it (see `drivers/machines/protocol.py`).

These paths sit outside `/api` and `/apis`, so the API's token middleware does not let them
through: each handler authenticates its caller itself, with the one token check every door
uses (`server.auth.check_token`), and accepts only the roles meant for it: a join token on
`join`, a machine credential scoped to the path's cluster and machine everywhere else.
Conversely the API refuses both roles everywhere (`middleware.py`), so a machine credential
reads no Secret, no other machine's assignments, nothing of the fleet.

A refusal before a join token is used leaves the token usable (a mistyped pool, say); once
the exchange has begun the token is spent, whatever happens next.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import (
    InferenceClass,
    InferenceCluster,
    InferenceGateway,
    MachineAddress,
    MachineCacheReport,
    MachineMember,
    MachineReplicaReport,
    MachineStatus,
)
from laneway.api.manifest import problems_from
from laneway.api.meta import ObjectKey, ObjectMeta, rfc3339
from laneway.cache.sources import credential_ref
from laneway.drivers.machines.book import ClusterGone, edit_machines, grace_seconds, heard_from, machines_cluster
from laneway.drivers.machines.bounds import report_refusal, size_refusal, stored_bytes, total_refusal
from laneway.drivers.machines.credentials import (
    MachineScope,
    consume,
    join_cluster,
    mint_machine_credential,
    revoke_machine,
    scope_refusal,
)
from laneway.drivers.machines.membership import JoinRefused, choose_pool, devices_summary
from laneway.drivers.machines.protocol import (
    AGENT_PREFIX,
    Heartbeat,
    JoinAnswer,
    JoinRequest,
    ReplicaReport,
    RunOrder,
    url_host,
)
from laneway.server import bodies
from laneway.server.auth import bearer_token, check_token
from laneway.server.certificates import AgentTls
from laneway.server.context import store_of
from laneway.server.errors import ApiError, forbidden, invalid, unauthorized
from laneway.server.storecalls import run_store
from laneway.store.base import Store, TokenRecord

AGENT_CA_HASH: web.AppKey[str] = web.AppKey("laneway_agent_ca_hash", str)
"""The fingerprint of the agents' CA ("" when this server has no TLS door for agents)."""


def heartbeat_interval(cluster: InferenceCluster) -> float:
    """How often an agent is asked to beat: several times per grace period."""
    return max(0.5, min(5.0, grace_seconds(cluster) / 4))


async def _caller(request: web.Request) -> TokenRecord:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise unauthorized("the agent sent no bearer token: start it with --token JOIN-TOKEN (laneway cluster join-token)")
    checked = await asyncio.to_thread(check_token, store_of(request), token)
    if checked.record is None:
        raise unauthorized(f"{checked.refusal}: mint a new join token (laneway cluster join-token CLUSTER) and join again")
    return checked.record


async def _document(request: web.Request, model: type[Any], what: str) -> Any:
    body = bodies.require_mapping(await bodies.read_body(request), what)
    try:
        return model.model_validate(body)
    except ValidationError as e:
        raise invalid(what, None, problems_from(e, model=model)) from None


class MachineTaken(Exception):
    """Two agents joined under one machine name at once; the second is refused."""


def _join(store: Store, record: TokenRecord, ask: JoinRequest) -> JoinAnswer:
    cluster_name = join_cluster(record)
    try:
        cluster = machines_cluster(store, cluster_name)
    except ClusterGone as e:
        raise ApiError(404, "NotFound", f"{e}: the cluster this join token was minted for is gone") from None
    if any(m.name == ask.machine for m in cluster.status.machines):
        raise ApiError(409, "AlreadyExists", (
            f"machine {ask.machine!r} has already joined cluster {cluster.name}: start the agent with its data directory "
            f"(which keeps its credential), or remove it first (laneway cluster remove-machine {cluster.name} {ask.machine})"))
    classes = {c.name: c for c in store.list(InferenceClass).items}
    discovered = InferenceClass(metadata=ObjectMeta(name=f"{ask.machine}-devices"), spec=ask.devices)
    pool = choose_pool(cluster, classes, discovered, ask.pool)
    if isinstance(pool, JoinRefused):
        raise ApiError(422, "Invalid", pool.message)
    if not consume(store, record):
        raise unauthorized("this join token was used a moment ago: mint a new one (laneway cluster join-token CLUSTER)")
    scope = MachineScope(cluster.name, ask.machine)
    credential = mint_machine_credential(store, scope)
    now = time.time()
    machine = MachineStatus(
        name=ask.machine, pool=pool.name, class_name=pool.class_name, address=ask.address,
        devices=devices_summary(discovered), device_count=sum(d.count for d in ask.devices.devices),
        joined=rfc3339(now), ready=True, since=rfc3339(now), message="joined",
    )


    def add(_c: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus]:
        if any(m.name == ask.machine for m in machines):  # another agent of that name joined meanwhile
            raise MachineTaken(ask.machine)
        return [*machines, machine]

    try:
        edit_machines(store, cluster.name, add)
    except MachineTaken:
        revoke_machine(store, scope)
        raise ApiError(409, "AlreadyExists", f"machine {ask.machine!r} joined cluster {cluster.name} a moment ago: "
                                             "start this agent with another --name and a new join token") from None
    heard_from(store, cluster, ask.machine)
    return JoinAnswer(cluster=cluster.name, machine=ask.machine, pool=pool.name, credential=credential,
                      heartbeat_seconds=heartbeat_interval(cluster))


async def join(request: web.Request) -> web.Response:
    record = await _caller(request)
    if record.role != "join":
        raise forbidden(f"a {record.role} token cannot join a machine: use a join token (laneway cluster join-token CLUSTER)")
    ask: JoinRequest = await _document(request, JoinRequest, "JoinRequest")
    if ask.cluster is not None and ask.cluster != join_cluster(record):
        raise forbidden(f"this join token admits to cluster {join_cluster(record)!r}, not {ask.cluster!r}: "
                        "mint one for that cluster, or leave --cluster out")
    answer = await run_store(_join, store_of(request), record, ask)
    return web.json_response(answer.wire(), status=201)


async def _machine_caller(request: web.Request) -> MachineScope:
    record = await _caller(request)
    cluster, machine = request.match_info["cluster"], request.match_info["machine"]
    why = scope_refusal(record, cluster, machine)
    if why:
        raise forbidden(why)
    return MachineScope(cluster, machine)


def _assignments(store: Store, cluster: InferenceCluster, machine: MachineStatus) -> dict[str, Any]:
    replicas = []
    for a in machine.assignments:
        replica = store.find(ModelReplica, ObjectKey(a.namespace, a.name))
        if replica is not None and replica.metadata.uid == a.uid and replica.metadata.deletion_timestamp is None:
            replicas.append(RunOrder(replica=replica.wire(), processes=a.processes, leader_addresses=a.leader_addresses).wire())
    caches = []
    for order in cluster.status.machine_caches:
        cache = store.find(ModelCache, ObjectKey(order.namespace, order.name))
        if cache is not None and cache.metadata.uid == order.uid and credential_ref(cache.spec) is None:
            caches.append(cache.wire())
    gateways = [g.wire() for g in store.list(InferenceGateway).items]
    shown = {"apiVersion": cluster.api_version, "kind": cluster.kind, "metadata": {"name": cluster.name},
             "spec": cluster.spec.wire()}
    return {"cluster": shown, "machine": machine.name, "pool": machine.pool, "replicas": replicas, "caches": caches,
            "gateways": gateways, "heartbeatSeconds": heartbeat_interval(cluster)}


def _own(store: Store, scope: MachineScope) -> tuple[InferenceCluster, MachineStatus]:
    try:
        cluster = machines_cluster(store, scope.cluster)
    except ClusterGone as e:
        raise ApiError(410, "Gone", f"{e}; this machine has nothing to run") from None
    machine = next((m for m in cluster.status.machines if m.name == scope.machine), None)
    if machine is None:
        raise ApiError(410, "Gone", f"machine {scope.machine!r} is not (or no longer) part of cluster {scope.cluster}: "
                                    "it was removed; join it again with a new join token")
    return cluster, machine


def _stored_report(r: ReplicaReport, host: str) -> MachineReplicaReport:
    return MachineReplicaReport(
        namespace=r.namespace, name=r.name, uid=r.uid, ready=r.ready, reason=r.reason, message=r.message,
        addresses=[MachineAddress(engine=a.engine, engine_copy=a.engine_copy, url=f"http://{host}:{a.port}", ready=a.ready,
                                  models=list(a.models)) for a in r.addresses],
        members=[MachineMember(id=m.id, engine=m.engine, phase=m.phase, ready=m.ready, restarts=m.restarts) for m in r.members],
    )


def _reports(store: Store, machine: MachineStatus, beat: Heartbeat) -> list[MachineReplicaReport]:
    """What to store of a heartbeat's reports: only replicas assigned to this machine, each URL
    built from the address the machine joined with (a machine cannot point anywhere else), each
    no larger than the replica it reports on allows (`drivers/machines/bounds.py`)."""
    assigned = {a.uid: a for a in machine.assignments}
    host = url_host(machine.address)
    out = []
    for r in beat.reports:
        a = assigned.get(r.uid)
        replica = None if a is None else store.find(ModelReplica, ObjectKey(a.namespace, a.name))
        if replica is None or replica.metadata.uid != r.uid:
            continue  # no longer (or never) this machine's to run
        why = report_refusal(replica, r)
        if why:
            raise ApiError(422, "Invalid", f"{why}; nothing of this heartbeat was stored")
        stored = _stored_report(r, host)
        too_big = size_refusal(replica, stored_bytes(stored))
        if too_big:
            raise ApiError(413, "RequestEntityTooLarge", f"{too_big}; nothing of this heartbeat was stored")
        out.append(stored)
    return out


def _cache_reports(cluster: InferenceCluster, beat: Heartbeat) -> list[MachineCacheReport]:
    """The heartbeat's cache reports on caches this cluster's machines were ordered to stage."""
    ordered = {c.uid for c in cluster.status.machine_caches}
    return [MachineCacheReport(namespace=c.namespace, name=c.name, uid=c.uid, state=c.state, message=c.message, bytes=c.bytes)
            for c in beat.caches if c.uid in ordered]


def _heartbeat(store: Store, scope: MachineScope, beat: Heartbeat) -> dict[str, Any]:
    cluster, machine = _own(store, scope)
    reports, caches = _reports(store, machine, beat), _cache_reports(cluster, beat)
    too_much = total_refusal(scope.machine, stored_bytes(*reports, *caches))
    if too_much:
        raise ApiError(413, "RequestEntityTooLarge", f"{too_much}; nothing of this heartbeat was stored")
    heard_from(store, cluster, scope.machine)
    now = time.time()

    def edit(current: InferenceCluster, machines: list[MachineStatus]) -> list[MachineStatus]:
        ordered = {c.uid for c in current.status.machine_caches}
        for m in machines:
            if m.name == scope.machine:
                if not m.ready:
                    m.ready, m.since, m.message = True, rfc3339(now), "heartbeat received"
                assigned = {a.uid for a in m.assignments}
                m.reports = [r for r in reports if r.uid in assigned]
                m.caches = [c for c in caches if c.uid in ordered]
        return machines

    try:
        cluster = edit_machines(store, scope.cluster, edit)
    except ClusterGone as e:
        raise ApiError(410, "Gone", str(e)) from None
    cluster, machine = _own(store, scope)
    return _assignments(store, cluster, machine)


async def heartbeat(request: web.Request) -> web.Response:
    scope = await _machine_caller(request)
    beat: Heartbeat = await _document(request, Heartbeat, "Heartbeat")
    return web.json_response(await run_store(_heartbeat, store_of(request), scope, beat))


async def assignments(request: web.Request) -> web.Response:
    scope = await _machine_caller(request)

    def read(store: Store) -> dict[str, Any]:
        return _assignments(store, *_own(store, scope))

    return web.json_response(await run_store(read, store_of(request)))


def add_agent_routes(app: web.Application, tls: AgentTls | None = None) -> None:
    router = app.router
    if tls is not None:
        pem = tls.ca_pem

        async def ca(request: web.Request) -> web.Response:
            """The CA of the agents' door, public: an agent trusts it only once its fingerprint
            matches the one given with its join token."""
            return web.json_response({"caCert": pem, "caCertHash": tls.ca_hash})

        router.add_get(f"{AGENT_PREFIX}/ca", ca)
    router.add_post(f"{AGENT_PREFIX}/join", join)
    router.add_post(f"{AGENT_PREFIX}/clusters/{{cluster}}/machines/{{machine}}/heartbeat", heartbeat)
    router.add_get(f"{AGENT_PREFIX}/clusters/{{cluster}}/machines/{{machine}}/assignments", assignments)
