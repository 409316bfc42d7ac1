"""The ModelDeployment controller: composes ModelReplicas from the scheduler's plan.

Each reconcile reads the fleet (clusters, classes, every replica), asks `placement.plan` where
this deployment's replicas belong, and applies the difference: creates `<deployment>-<index>`
replicas (owned by the deployment, labelled `laneway.dev/deployment` and
`laneway.dev/replica-index`), updates retained ones whose template changed, and deletes the
ones the plan drops. It then reports `ReplicasScheduled`, `ReplicasReady` and
`status.replicas.total/.ready` (ready = replicas whose Ready condition is True).

Any change to an InferenceCluster or InferenceClass re-plans every deployment, since free
capacity and matching are fleet-wide facts.

A deployment with `modelCacheRef` takes new replicas only on clusters its ModelCache covers;
the other clusters are passed to the scheduler as closed (not removed from the fleet), so a
cache that is missing or whose selector narrowed never tears down replicas already running.

When placement changes (replicas created or deleted), the controller logs it and records it as
`status.lastPlacementChange {time, message}`, which `laneway describe md NAME` shows: the store
has no events API, and a status field is where a user already looks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Mapping, Sequence

from laneway.api.conditions import is_true
from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment, ModelReplica
from laneway.api.meta import ObjectKey, Resource
from laneway.cache.gate import deployments_using_cache, placement_gate_for
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import live_object
from laneway.control.status import ConditionUpdate, write_status
from laneway.placement import DEFAULT_MATCHER, DeviceMatcher, Placement, plan
from laneway.placement.compose import compose_replica
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.store.base import AlreadyExists, NotFound

log = logging.getLogger(__name__)


BAD_EDIT_REASONS = frozenset({"InvalidNodeSelector", "NoMatchingDevices"})
"""ReplicasScheduled reasons of a bad edit: running replicas stay, and stay as they are."""


def replicas_ready_condition(placement: Placement, ready: int) -> ConditionUpdate:
    """ReplicasReady from the plan and the replicas' own readiness (pure)."""
    wanted = placement.wanted
    if placement.short:
        return ConditionUpdate("ReplicasReady", "False", "Scheduling", f"{ready} of {wanted} ready; {placement.short} not placed yet")
    if ready >= wanted:
        return ConditionUpdate("ReplicasReady", "True", "Ready", f"{ready} of {wanted} ready")
    return ConditionUpdate("ReplicasReady", "False", "Starting", f"{ready} of {wanted} ready")


def closed_by_cache(deployment: ModelDeployment, clusters: Sequence[InferenceCluster], open_: Sequence[InferenceCluster]) -> dict[str, str]:
    """Clusters the cache gate leaves out, as the scheduler's closed clusters, with why (pure)."""
    ref = deployment.spec.template.spec.model_cache_ref
    kept = {c.name for c in open_}
    why = f"ModelCache {ref.name!r} is not staged here" if ref is not None else "left out by the placement gate"
    return {c.name: why for c in clusters if c.name not in kept}


def placement_change(changes: Sequence[str], *, now: float) -> dict[str, str]:
    """`status.lastPlacementChange`: when replicas were last created or deleted, and which (pure)."""
    return {"time": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "message": "; ".join(changes)}


class DeploymentController:
    name = "modeldeployment"
    kind = "ModelDeployment"

    def __init__(self, ctx: ControlContext, *, matcher: DeviceMatcher = DEFAULT_MATCHER) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.matcher = matcher
        self.watches: Mapping[str, KeyMapper] = {
            "ModelReplica": self._owner_of,
            "InferenceCluster": self._every_deployment,
            "InferenceClass": self._every_deployment,
            "ModelCache": deployments_using_cache(self.store),
        }

    @staticmethod
    def _owner_of(replica: Resource) -> list[ObjectKey]:
        name = replica.metadata.labels.get(DEPLOYMENT_LABEL)
        return [ObjectKey(replica.namespace, name)] if name else []

    def _every_deployment(self, _: Resource) -> list[ObjectKey]:
        return [d.key for d in self.store.list(ModelDeployment).items]

    async def reconcile(self, key: ObjectKey) -> Result:
        deployment = live_object(self.store, ModelDeployment, key)
        if deployment is None:
            return Result()  # gone, or being deleted: the garbage collector removes the replicas it owns
        clusters = self.store.list(InferenceCluster).items
        cache_gate = placement_gate_for(self.store, deployment, clusters)  # new replicas only where its ModelCache is
        classes = self.store.list(InferenceClass).items
        replicas = self.store.list(ModelReplica).items
        placement = plan(
            deployment,
            clusters=clusters,
            classes=classes,
            replicas=replicas,
            matcher=self.matcher,
            closed=closed_by_cache(deployment, clusters, cache_gate.clusters),
        )

        mine = {
            r.name: r
            for r in replicas
            if r.namespace == deployment.namespace and r.metadata.labels.get(DEPLOYMENT_LABEL) == deployment.name
        }
        desired = {}
        frozen = placement.condition.reason in BAD_EDIT_REASONS
        for placed in placement.replicas:
            obj = compose_replica(deployment, placed)
            current = mine.get(obj.name)
            # A bad edit keeps running replicas as they run: rolling its broken selectors onto
            # them would hand a driver device requests it cannot satisfy (rule 4).
            desired[obj.name] = current if frozen and placed.retained and current is not None else obj
        changed = self._apply(desired, mine)
        if changed:
            log.info("placement of %s changed: %s", deployment.key, "; ".join(changed))
        moved = [c for c in changed if not c.startswith("updated ")]

        ready = sum(1 for name in desired if name in mine and is_true(mine[name].status.conditions, "Ready"))
        c = cache_gate.explain(placement.condition)
        fields: dict[str, object] = {"replicas": {"total": len(placement.replicas), "ready": ready}}
        if moved:
            fields["last_placement_change"] = placement_change(moved, now=self.ctx.clock())
        write_status(
            self.store,
            deployment,
            conditions=[ConditionUpdate("ReplicasScheduled", c.status, c.reason, c.message), replicas_ready_condition(placement, ready)],
            fields=fields,
        )
        return Result()

    def _apply(self, desired: dict[str, ModelReplica], mine: dict[str, ModelReplica]) -> list[str]:
        changed = []
        for name, obj in desired.items():
            current = mine.get(name)
            if current is None:
                try:
                    self.store.create(obj)
                    changed.append(f"created {name} on {obj.spec.cluster_name}")
                except AlreadyExists:
                    pass  # created since we listed; the next reconcile sees it
                continue
            if current.metadata.deletion_timestamp:
                continue
            if current.spec.wire() != obj.spec.wire() or current.metadata.labels != obj.metadata.labels:
                update = current.model_copy(
                    update={"spec": obj.spec, "metadata": current.metadata.model_copy(update={"labels": obj.metadata.labels})}
                )
                self.store.update(update)
                changed.append(f"updated {name}")
        for name, current in mine.items():
            if name not in desired and not current.metadata.deletion_timestamp:
                try:
                    self.store.delete(ModelReplica, current.key)
                    changed.append(f"deleted {name} from {current.spec.cluster_name}")
                except NotFound:
                    pass
        return changed
