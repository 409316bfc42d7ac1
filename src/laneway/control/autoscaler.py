"""The autoscaler: drives each autoscaled ModelDeployment's `spec.replicas` from demand.

Every `interval` seconds per deployment with `spec.autoscaling`, it reads demand (the
gateway's in-flight and queued gauges for the services that front the deployment, split
evenly when a service fronts several, plus the engines' own queue metrics), asks the pure
policy (`laneway.autoscale.policy.decide`), checks a scale-up against a dry run of the
scheduler so it never asks for more than placement can fit, and writes `spec.replicas` (the
field the scale subresource exposes) only when it changes. What it decided and why is in
`status.autoscaling` and the `ScalingLimited` condition (capacity, max or min, not demand).

It also marks each ModelService that fronts a deployment able to scale from zero
(`status.scaleFromZero: true`), which tells the gateway to hold requests while the first
replica starts instead of failing them.

Demand that cannot be read (no gateway yet, a failed scrape) changes nothing: the count
stays as it is. The policy's memory (recent recommendations, when demand was last seen) is
kept in `status.autoscaling` too (`laneway.autoscale.memory`), so a restarted or newly
elected control plane continues the stabilization windows instead of starting fresh.

Each deployment is decided at most once per `interval`: a reconcile queued sooner (by its own
status write, the deployment controller's, or a ModelService change) only marks services and
waits for the rest of the interval, so writes cannot feed a busy loop of scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment, ModelReplica
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.api.meta import ObjectKey, Resource, rfc3339
from laneway.autoscale.demand import (
    EngineDemand,
    GatewayDemand,
    ScrapedEngineDemand,
    ScrapedGatewayDemand,
    ServiceLoad,
)
from laneway.autoscale.memory import state_fields, state_from_status
from laneway.autoscale.policy import AutoscalingConfig, AutoscalingContext, Decision, Demand, PolicyState, decide
from laneway.autoscale.services import services_for
from laneway.cache.gate import placement_gate_for
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.placement import plan
from laneway.store.base import Conflict, NotFound

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0


def scales_from_zero(deployment: ModelDeployment) -> bool:
    a = deployment.spec.autoscaling
    return a is not None and a.min_replicas == 0 and not deployment.metadata.deletion_timestamp


def recommendation(decision: Decision, now: float, current: int) -> int:
    """What demand asks for at this moment, within min/max (before the stabilization windows)."""
    return next((r for t, r in reversed(decision.state.recommendations) if t == now), current)


def limited_condition(decision: Decision) -> ConditionUpdate:
    if decision.limited:
        return ConditionUpdate("ScalingLimited", "True", decision.reason, decision.message)
    return ConditionUpdate("ScalingLimited", "False", decision.reason, decision.message)


class AutoscalerController:
    name = "autoscaler"
    kind = "ModelDeployment"

    def __init__(
        self,
        ctx: ControlContext,
        *,
        gateway: GatewayDemand | None = None,
        engines: EngineDemand | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.gateway = gateway if gateway is not None else (
            ScrapedGatewayDemand(ctx.gateway_address, token=_gateway_token(ctx)) if ctx.gateway_address else None
        )
        self.engines = engines if engines is not None else ScrapedEngineDemand()
        self.interval = interval
        self.states: dict[ObjectKey, PolicyState] = {}
        self._decided_at: dict[ObjectKey, float] = {}
        """When each deployment was last decided, on the controller's clock (the throttle)."""
        self.watches: Mapping[str, KeyMapper] = {"ModelService": self._deployments_in_namespace}

    def _deployments_in_namespace(self, service: Resource) -> list[ObjectKey]:
        return [d.key for d in self.store.list(ModelDeployment, namespace=service.namespace).items]

    async def reconcile(self, key: ObjectKey) -> Result:
        deployment = self.store.find(ModelDeployment, key)
        if deployment is None:
            self._forget(key)
            return Result()
        services = self.store.list(ModelService, namespace=key.namespace).items
        if not services and (deployment.spec.autoscaling is None or deployment.metadata.deletion_timestamp):
            # Nothing to mark and nothing to decide: skip reading the fleet, which on a large
            # one is thousands of objects for every status write of every deployment.
            self._forget(key)
            return Result()
        clusters = self.store.list(InferenceCluster).items
        endpoints = self.store.list(ModelEndpoint, namespace=key.namespace).items
        self._mark_services(services, clusters, endpoints)
        if deployment.spec.autoscaling is None or is_deleting(deployment):
            self._forget(key)
            return Result()
        now = self.ctx.clock()
        last = self._decided_at.get(key)
        if last is not None and 0 <= now - last < self.interval:
            return Result(requeue_after=self.interval - (now - last))

        demand = await self._demand(deployment, services, clusters, endpoints)
        if demand is None:
            return Result(requeue_after=self.interval)
        now = self.ctx.clock()
        self._decided_at[key] = now
        state = self.states.get(key)
        if state is None:  # first look since this process started: continue what the status remembers
            state = state_from_status(deployment.status.autoscaling, now)
        ctx = AutoscalingContext(
            config=AutoscalingConfig.from_spec(deployment.spec.autoscaling),
            current_replicas=deployment.spec.replicas,
            demand=demand,
            now=now,
            state=state,
        )
        decision = decide(ctx)
        if decision.replicas > ctx.current_replicas:
            fits = self._fits(deployment, decision.replicas, clusters)
            if fits < decision.replicas:
                decision = decide(AutoscalingContext(ctx.config, ctx.current_replicas, demand, ctx.now, ctx.state, capacity=fits))
        self.states[key] = decision.state
        if decision.replicas != deployment.spec.replicas:
            log.info("autoscaling %s: %d -> %d replicas (%s)", key, deployment.spec.replicas, decision.replicas, decision.message)
            deployment.spec.replicas = decision.replicas
            try:
                deployment = self.store.update(deployment)
            except Conflict:
                self._decided_at.pop(key, None)
                return Result(requeue_after=0.1)  # someone else wrote it; decide again on fresh state
        try:
            write_status(
                self.store,
                deployment,
                conditions=[limited_condition(decision)],
                fields={"autoscaling": {"desiredReplicas": decision.replicas, "wantedByDemand": decision.wanted,
                                        "recommendation": recommendation(decision, now, deployment.spec.replicas),
                                        "load": round(demand.load, 3), "reason": decision.reason, "message": decision.message,
                                        **state_fields(decision.state, now)}},
                now=rfc3339(now),
            )
        except Conflict:
            pass  # the deployment controller wrote in between; the next tick writes ours
        return Result(requeue_after=self.interval)

    def _forget(self, key: ObjectKey) -> None:
        self.states.pop(key, None)
        self._decided_at.pop(key, None)

    async def _demand(
        self, deployment: ModelDeployment, services: list[ModelService], clusters: list[InferenceCluster], endpoints: list[ModelEndpoint]
    ) -> Demand | None:
        gateway = await self.gateway.services() if self.gateway is not None else None
        mine = [e for e in endpoints if e.metadata.labels.get(DEPLOYMENT_LABEL) == deployment.name and e.status.ready]
        engine = await self.engines.engines([e.spec.url for e in mine]) if self.engines is not None and mine else None
        if gateway is None and engine is None:
            return None
        in_flight = queued = 0.0
        if gateway is not None:
            deployments = self.store.list(ModelDeployment, namespace=deployment.namespace).items
            for key in services_for(deployment, services, clusters, endpoints):
                load = gateway.get(key, ServiceLoad())
                service = next(s for s in services if s.key == key)
                sharing = sum(1 for d in deployments if key in services_for(d, [service], clusters, endpoints)) or 1
                in_flight += load.in_flight / sharing
                queued += load.queued / sharing
        return Demand(
            in_flight=in_flight,
            queued=queued,
            engine_running=engine.running if engine else None,
            engine_waiting=engine.waiting if engine else None,
        )

    def _fits(self, deployment: ModelDeployment, wanted: int, clusters: list[InferenceCluster]) -> int:
        """How many replicas placement would place at `wanted` (a dry run, nothing written)."""
        classes = self.store.list(InferenceClass).items
        replicas = self.store.list(ModelReplica).items
        trial = deployment.model_copy(update={"spec": deployment.spec.model_copy(update={"replicas": wanted})})
        allowed = placement_gate_for(self.store, trial, clusters).clusters
        return len(plan(trial, clusters=allowed, classes=classes, replicas=replicas).replicas)

    def _mark_services(self, services: list[ModelService], clusters: list[InferenceCluster], endpoints: list[ModelEndpoint]) -> None:
        if not services:
            return
        namespace = services[0].namespace
        zeroable = [d for d in self.store.list(ModelDeployment, namespace=namespace).items if scales_from_zero(d)]
        for service in services:
            wanted = any(service.key in services_for(d, [service], clusters, endpoints) for d in zeroable)
            if bool(service.status.scale_from_zero) == wanted:
                continue
            status = service.status.model_copy(update={"scale_from_zero": True if wanted else None})
            try:
                self.store.update_status(service.model_copy(update={"status": status}))
            except (Conflict, NotFound):
                pass  # the gateway wrote the status in between; the next tick tries again


def _gateway_token(ctx: ControlContext) -> Callable[[], str | None] | None:
    """What the autoscaler sends to read the gateway's `/metrics` (platform tokens only)."""
    if ctx.gateway_token is not None:
        return ctx.gateway_token
    return ctx.data_dir.read_admin_token if ctx.data_dir is not None else None
