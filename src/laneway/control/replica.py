"""The ModelReplica controller: runs each replica through its cluster's driver.

For every replica it applies the replica on its cluster's driver, observes it, writes the
Ready condition (with the driver's reason: EnginesStarting, CrashLoopBackOff, ...), and keeps
one ModelEndpoint per serving address while, and only while, that address is ready (rule 6 of
the design). A finalizer makes deletion stop the replica's engines before the object goes.

Draining: a replica that leaves (deleted by a scale-down, a rollout's surge or a user) or that
takes a new spec in place (a rolling update) is first drained: its endpoints leave the store,
so every gateway drops it from its routing table; then it keeps running while its engines
still report requests running or waiting (`vllm:num_requests_*` or llama.cpp's equivalents),
at least `DRAIN_SETTLE` seconds (for the gateways to see the change) and at most the
deployment's `strategy.drainTimeout` (default 30s); only then is it stopped or restarted.
`status.phase` is `Draining` meanwhile, and `status.drainingSince` says since when, so a
restarted controller continues the same drain rather than starting a new one.

An engine that exits unasked is reported by drivers that can (`ExitReporter`: Local's
supervisor): the replica's endpoints leave the store at once, not at the next look.

Each endpoint carries `laneway.dev/engine` with the engine it serves, so a service can select
one engine of a two-engine replica (a chat model and an embedding server) rather than both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint, ModelEndpointSpec, ModelEndpointStatus
from laneway.api.labels import (
    BOUNDARY_LABELS_ANNOTATION,
    CLUSTER_LABEL,
    DEPLOYMENT_LABEL,
    ENGINE_LABEL,
    REPLICA_LABEL,
    WRITTEN_BY_ANNOTATION,
)
from laneway.api.meta import LABEL_PREFIX, ObjectKey, ObjectMeta, Resource, rfc3339
from laneway.autoscale.demand import EngineDemand, ScrapedEngineDemand
from laneway.cache.gate import WAITING_FOR_CACHE, replicas_using_cache, start_wait_for
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import allow_deletion, block_deletion, is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.drivers.base import DrainsItself, Driver, ExitReporter, Paced, ReplicaObservation, ServingAddress
from laneway.drivers.registry import DriverSet
from laneway.gateway.provenance import LANEWAY_WRITER, boundary_keys
from laneway.store.base import AlreadyExists, Conflict, NotFound

FINALIZER = LABEL_PREFIX + "engines"
REQUEUE_STARTING = 1.0
REQUEUE_STEADY = 3.0
# A Ready replica is looked at every second, so a crashed engine's endpoint leaves within about
# a second (rule 6); the supervisor restarts it no sooner than its 1 s backoff.
REQUEUE_READY = 1.0
DRAIN_SETTLE = 1.0
"""Seconds a draining replica keeps running at least, for every gateway to drop it from its table."""
DRAIN_POLL = 0.5
DEFAULT_DRAIN_TIMEOUT = 30.0

log = logging.getLogger(__name__)


def drain_done(*, since: float, now: float, timeout: float, busy: float | None) -> tuple[bool, str]:
    """Whether a drain that began at `since` is over (pure): the engines are idle (`busy` is
    their running + waiting requests; None when they publish no such metric) after the settle
    time, or the timeout passed. Returns the verdict and why, for the log."""
    waited = now - since
    if waited >= timeout:
        return True, f"drain timeout {timeout:g}s reached" + (f" with {busy:g} request(s) still in flight" if busy else "")
    if waited < DRAIN_SETTLE:
        return False, "waiting for gateways to drop it"
    if busy is None or busy <= 0:
        return True, f"idle after {waited:.1f}s"
    return False, f"{busy:g} request(s) in flight"


def endpoint_name(replica: ModelReplica, address: ServingAddress, total: int) -> str:
    """One endpoint keeps the replica's name; several (engine copies) are suffixed."""
    if total == 1:
        return replica.name
    return f"{replica.name}-{address.engine}-{address.copy}"[:63].rstrip("-")


def desired_endpoints(
    replica: ModelReplica, cluster_labels: Mapping[str, str], observation: ReplicaObservation
) -> list[ModelEndpoint]:
    """Endpoints for the replica's ready serving addresses. Pure, so the rule is testable.

    The cluster's labels win over the deployment template's (the platform's word over the
    team's), and only they and the cluster name are listed as what a data boundary reads
    (`laneway.gateway.provenance`): a template labelled `jurisdiction: eu` on a US cluster
    does not make its endpoints European."""
    if not observation.ready:
        return []
    vouched = {**cluster_labels, CLUSTER_LABEL: replica.spec.cluster_name}
    labels = {**replica.metadata.labels, **vouched, REPLICA_LABEL: replica.name}
    annotations = {WRITTEN_BY_ANNOTATION: LANEWAY_WRITER, BOUNDARY_LABELS_ANNOTATION: boundary_keys(vouched)}
    out = []
    for address in observation.addresses:
        if not address.ready:
            continue
        out.append(
            ModelEndpoint(
                metadata=ObjectMeta(
                    name=endpoint_name(replica, address, len(observation.addresses)),
                    namespace=replica.namespace,
                    labels={**labels, ENGINE_LABEL: address.engine},
                    annotations=annotations,
                    owner_references=[replica.owner_reference()],
                ),
                # An engine serving exactly one model gets requests under that name, whatever
                # name the service publishes; one serving several (adapters) gets the name asked.
                spec=ModelEndpointSpec(url=address.url, model=address.models[0] if len(address.models) == 1 else None),
                status=ModelEndpointStatus(ready=True),
            )
        )
    return out


def serving_urls(observation: ReplicaObservation) -> str | None:
    """`status.endpoint` (what `get mr -o wide` shows as ENDPOINT): the URLs the replica serves
    on while it is Ready, comma-separated when engine copies serve on several; None otherwise,
    since an address that is not routable is not an endpoint (rule 6). Pure."""
    if not observation.ready:
        return None
    urls = [a.url for a in observation.addresses if a.ready]
    return ",".join(urls) if urls else None


def look_again(driver: Driver, replica: ModelReplica, ready: bool) -> float | None:
    """When to observe a replica again. Drivers whose replicas change only when told (a
    simulated cluster) say so with `observe_interval = None`: a Ready replica is then not
    polled at all, and a starting one is looked at when it is due (`starting_for`)."""
    if not isinstance(driver, Paced):
        return REQUEUE_READY if ready else REQUEUE_STARTING
    interval = driver.observe_interval
    if ready or interval is not None:
        return interval if ready else REQUEUE_STARTING
    return driver.starting_for(replica)


class ReplicaController:
    name = "modelreplica"
    kind = "ModelReplica"
    concurrency = 4

    def __init__(self, ctx: ControlContext, drivers: DriverSet, *, engines: EngineDemand | None = None) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.drivers = drivers
        self._homes: dict[ObjectKey, str] = {}  # replica -> its cluster, kept from replica events
        self._residents: dict[str, set[ObjectKey]] = {}  # cluster -> its replicas
        self.engines: EngineDemand = engines if engines is not None else ScrapedEngineDemand()
        self.watches: Mapping[str, KeyMapper] = {
            "ModelReplica": self._remember_home,
            "InferenceCluster": self._replicas_on_cluster,
            "ModelCache": replicas_using_cache(self.store),
        }

    def _remember_home(self, replica: Resource) -> list[ObjectKey]:
        """Index replicas by cluster as their events pass (the replica's own key is queued
        anyway): a cluster event then finds its replicas without listing every replica, which
        on a fleet of a thousand clusters would read the whole fleet a thousand times."""
        if isinstance(replica, ModelReplica):
            key = replica.key
            before = self._homes.pop(key, None)
            if before is not None:
                self._residents.get(before, set()).discard(key)
            if not (replica.metadata.deletion_timestamp and not replica.metadata.finalizers):  # not gone
                self._homes[key] = replica.spec.cluster_name
                self._residents.setdefault(replica.spec.cluster_name, set()).add(key)
        return []

    def _replicas_on_cluster(self, cluster: Resource) -> list[ObjectKey]:
        return sorted(self._residents.get(cluster.name, ()))

    async def reconcile(self, key: ObjectKey) -> Result:
        replica = self.store.find(ModelReplica, key)
        if replica is None:
            return Result()
        cluster = self._cluster(replica.spec.cluster_name)
        driver = self.drivers.for_cluster(cluster) if cluster else None

        if is_deleting(replica):
            # A replica whose cluster was deleted before it may still run: then every driver this
            # process started is asked to stop it (teardown is idempotent, a no-op elsewhere).
            running_on_all = [driver] if driver is not None else self.drivers.active()
            serving = replica.status.phase in ("Ready", "Draining")  # one that never served has nothing in flight
            if serving and FINALIZER in replica.metadata.finalizers and not await self._drained(replica, running_on_all, why="leaving"):
                return Result(requeue_after=DRAIN_POLL)
            for running_on in running_on_all:
                await running_on.teardown(replica)
            self._sync_endpoints(replica, [])
            allow_deletion(self.store, replica, FINALIZER)
            return Result()

        replica = block_deletion(self.store, replica, FINALIZER)

        if cluster is None:
            self._sync_endpoints(replica, [])
            self._write(replica, "False", "ClusterNotFound", f"cluster {replica.spec.cluster_name!r} does not exist", "Pending")
            return Result(requeue_after=REQUEUE_STEADY)
        if driver is None:
            self._sync_endpoints(replica, [])
            self._write(
                replica,
                "False",
                "NoDriver",
                f"cluster {cluster.name!r} has source {cluster.spec.cluster.source}, which this laneway cannot drive yet",
                "Pending",
            )
            return Result(requeue_after=REQUEUE_STEADY * 10)

        waiting = start_wait_for(self.store, replica) if replica.status.phase in (None, "Pending") else None
        if waiting is not None:  # engines start only once the replica's ModelCache is Ready on its cluster
            self._sync_endpoints(replica, [])
            self._write(replica, "False", WAITING_FOR_CACHE, waiting, "Pending")
            return Result(requeue_after=REQUEUE_STEADY)
        applied = replica.status.applied_generation
        respec = applied is not None and applied != replica.metadata.generation and replica.status.phase in ("Ready", "Draining")
        if respec and not await self._drained(replica, [driver], why="taking its new spec"):  # a rolling update restarts it
            return Result(requeue_after=DRAIN_POLL)
        if isinstance(driver, ExitReporter):
            driver.on_exit(self._engine_exited)
        await driver.apply(replica, cluster)
        observation = await driver.observe(replica)
        self._sync_endpoints(replica, desired_endpoints(replica, cluster.metadata.labels, observation))
        phase = "Ready" if observation.ready else ("Failed" if observation.reason == "CrashLoopBackOff" else "Starting")
        restarts = sum(m.restarts for m in observation.members) or None
        self._write(replica, "True" if observation.ready else "False", observation.reason, observation.message, phase, restarts,
                    applied=replica.metadata.generation, endpoint=serving_urls(observation))
        return Result(requeue_after=look_again(driver, replica, observation.ready))

    def _engine_exited(self, namespace: str, name: str) -> None:
        """An engine of this replica exited unasked (the driver says so at once): its endpoints
        leave the store now, so every gateway drops it before its next request does; the next
        reconcile brings them back once the restarted engine is ready."""
        replica = self.store.find(ModelReplica, ObjectKey(namespace, name))
        if replica is None or replica.status.phase == "Draining":
            return
        try:
            self._sync_endpoints(replica, [])
        except (Conflict, NotFound):
            pass
        log.info("engine of replica %s/%s exited: its endpoints left the routing table", namespace, name)

    async def _drained(self, replica: ModelReplica, drivers: Iterable[Driver], *, why: str) -> bool:
        """One step of draining (see the module docstring): True once the replica may stop."""
        since = replica.status.draining_since
        now = self.ctx.clock()
        if since is None:
            self._sync_endpoints(replica, [])  # out of every gateway's table first
            self._write(replica, "False", "Draining", f"draining before {why}: out of the routing table, finishing requests in flight",
                        "Draining", draining_since=now)
            return False
        urls = []
        for d in drivers:
            if not isinstance(d, DrainsItself):  # a cluster gateway's address shows no engine's metrics
                urls += [a.url for a in (await d.observe(replica)).addresses]
        load = await self.engines.engines(urls) if urls else None
        done, detail = drain_done(since=since, now=now, timeout=self._drain_timeout(replica), busy=load.running + load.waiting if load else None)
        if done:
            log.info("replica %s drained before %s: %s", replica.key, why, detail)
        return done

    def _drain_timeout(self, replica: ModelReplica) -> float:
        """The owning deployment's `strategy.drainTimeout`, else the default."""
        name = replica.metadata.labels.get(DEPLOYMENT_LABEL)
        deployment = self.store.find(ModelDeployment, ObjectKey(replica.namespace, name)) if name else None
        strategy = deployment.spec.strategy if deployment is not None else None
        if strategy is not None and strategy.drain_timeout:
            return parse_duration(strategy.drain_timeout)
        return DEFAULT_DRAIN_TIMEOUT

    def _cluster(self, name: str) -> InferenceCluster | None:
        return self.store.find(InferenceCluster, ObjectKey("", name))

    def _sync_endpoints(self, replica: ModelReplica, wanted: list[ModelEndpoint]) -> None:
        # The replica's endpoints are its dependents (one indexed read of the owner references),
        # not a label query over every endpoint of its namespace on each reconcile.
        existing = {e.name: e for e in self.store.dependents(replica.metadata.uid or "") if isinstance(e, ModelEndpoint)}
        for endpoint in wanted:
            current = existing.pop(endpoint.name, None)
            if current is None:
                created = self._create_endpoint(replica, endpoint)
                self.store.update_status(created.model_copy(update={"status": endpoint.status}))
            elif (current.spec != endpoint.spec or current.metadata.labels != endpoint.metadata.labels
                  or current.metadata.annotations != endpoint.metadata.annotations):
                current.spec = endpoint.spec
                current.metadata.labels = endpoint.metadata.labels
                current.metadata.annotations = endpoint.metadata.annotations
                self.store.update(current)
        for stale in existing.values():
            try:
                self.store.delete(ModelEndpoint, stale.key)
            except NotFound:
                pass

    def _create_endpoint(self, replica: ModelReplica, endpoint: ModelEndpoint) -> ModelEndpoint:
        """Create `endpoint`; one of its name left by an earlier replica of the same name (its
        owner gone, the garbage collector not there yet) is replaced, anything else refused."""
        try:
            return self.store.create(endpoint)
        except AlreadyExists:
            stale = self.store.find(ModelEndpoint, endpoint.key)
            if stale is None or stale.metadata.labels.get(REPLICA_LABEL) != replica.name:
                raise
            try:
                self.store.delete(ModelEndpoint, stale.key, resource_version=stale.metadata.resource_version)
            except NotFound:
                pass
            return self.store.create(endpoint)

    def _write(
        self,
        replica: ModelReplica,
        status: str,
        reason: str,
        message: str,
        phase: str,
        restarts: int | None = None,
        *,
        applied: int | None = None,
        draining_since: float | None = None,
        endpoint: str | None = None,
    ) -> None:
        fields: dict[str, object] = {"phase": phase, "draining_since": draining_since, "endpoint": endpoint}
        if restarts is not None:
            fields["restarts"] = restarts
        if applied is not None:
            fields["applied_generation"] = applied
        try:
            write_status(
                self.store,
                replica,
                conditions=[ConditionUpdate("Ready", status, reason, message)],  # type: ignore[arg-type]
                fields=fields,
                now=rfc3339(self.ctx.clock()),
            )
        except Conflict:
            pass  # a newer write landed; the next reconcile sees it
