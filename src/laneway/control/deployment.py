"""The ModelDeployment controller: composes ModelReplicas from the scheduler's plan.

A pass reads the fleet once (clusters, classes, every replica), asks `placement.plan_fleet`
where the replicas of every deployment it was handed belong, and applies each difference:
creates replicas (owned by the deployment, labelled `laneway.dev/deployment` and
`laneway.dev/replica-index`), updates retained ones whose template changed, and deletes the
ones the plan drops. It then reports `ReplicasScheduled`, `ReplicasReady` and
`status.replicas.total/.ready` (ready = replicas whose Ready condition is True).

`BatchedDeploymentController` (what `laneway up` runs) takes every deployment that is queued
at once into one pass, so a burst of 2,000 applies, or a cluster coming back, costs a few plans
over one snapshot rather than 2,000 reads of the fleet. `DeploymentController` plans one per
pass (kept for comparison: `benchmarks/fleet_live.py` runs both).

Wake-ups (`control.wakeups`): a deployment is queued by its own changes and its replicas', and
by every change that can change its answer without re-planning the world on every event: a
replica going away wakes the deployments waiting for capacity; a cluster or class whose
placement-relevant fields changed wakes those waiting and those with replicas there.

Lost clusters: a cluster NotReady past its grace period (`placement.lost`) has its replicas
replaced elsewhere; the controller looks again when a grace period ends, and while replicas
stay stranded.

A deployment with `modelCacheRef` takes new replicas only on clusters its ModelCache covers;
the other clusters are passed to the scheduler as closed (not removed from the fleet), so a
cache that is missing or whose selector narrowed never tears down replicas already running.

When placement changes (replicas created or deleted), the controller logs it and records it as
`status.lastPlacementChange {time, message}`, which `laneway describe md NAME` shows: the store
has no events API, and a status field is where a user already looks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from laneway.api.conditions import find_condition, is_true
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.api.meta import ObjectKey, Resource, now_rfc3339, rfc3339
from laneway.cache.gate import (
    WAITING_FOR_CACHE,
    PlacementGate,
    deployments_using_cache,
    placement_gate_for,
)
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.fleetcache import FleetCache
from laneway.control.rollout_plan import desired_replicas, outdated, strategy_of
from laneway.control.status import ConditionUpdate, write_status
from laneway.control.wakeups import PlanWakeups
from laneway.placement import DEFAULT_MATCHER, DeviceMatcher, Placement, plan, plan_fleet
from laneway.placement.lost import LostClusters, lost_clusters
from laneway.placement.memo import PlanMemo
from laneway.store.base import AlreadyExists, Conflict, NotFound, Store

log = logging.getLogger(__name__)


STRANDED_RECHECK_SECONDS = 5.0
SHORT_RECHECK_SECONDS = 300.0
"""How often a deployment with replicas stranded on a lost cluster looks at its replacements
(their turning Ready also wakes it; this is the backstop)."""

BAD_EDIT_REASONS = frozenset({"InvalidNodeSelector", "NoMatchingDevices"})
"""ReplicasScheduled reasons of a bad edit: running replicas stay, and stay as they are."""


def replicas_ready_condition(placement: Placement, ready: int, waiting_for_cache: Sequence[str] = ()) -> ConditionUpdate:
    """ReplicasReady from the plan and the replicas' own readiness (pure). `waiting_for_cache`
    holds the Ready messages of the placed replicas held back by their ModelCache: a deployment
    waiting for its weights says so (`WaitingForCache`, with the first replica's reason, such as
    a failed fetch), rather than a `Starting` that would read as engines booting."""
    wanted = placement.wanted
    if placement.short:
        return ConditionUpdate("ReplicasReady", "False", "Scheduling", f"{ready} of {wanted} ready; {placement.short} not placed yet")
    if ready >= wanted:
        return ConditionUpdate("ReplicasReady", "True", "Ready", f"{ready} of {wanted} ready")
    if waiting_for_cache:
        more = f" (and {len(waiting_for_cache) - 1} more)" if len(waiting_for_cache) > 1 else ""
        return ConditionUpdate(
            "ReplicasReady", "False", "WaitingForCache", f"{ready} of {wanted} ready; {waiting_for_cache[0]}{more}"
        )
    return ConditionUpdate("ReplicasReady", "False", "Starting", f"{ready} of {wanted} ready")


def waiting_for_cache(replicas: Iterable[ModelReplica]) -> list[str]:
    """The Ready messages of the replicas whose engines wait for their ModelCache (pure)."""
    out = []
    for replica in replicas:
        condition = find_condition(replica.status.conditions, "Ready")
        if condition is not None and condition.status != "True" and condition.reason == WAITING_FOR_CACHE:
            out.append(condition.message or f"{replica.name} waits for its ModelCache")
    return out


def closed_by_cache(deployment: ModelDeployment, clusters: Sequence[InferenceCluster], open_: Sequence[InferenceCluster]) -> dict[str, str]:
    """Clusters the cache gate leaves out, as the scheduler's closed clusters, with why (pure)."""
    if len(open_) == len(clusters):
        return {}  # the gate leaves every cluster open (no modelCacheRef): nothing to compare
    ref = deployment.spec.template.spec.model_cache_ref
    kept = {c.name for c in open_}
    why = f"ModelCache {ref.name!r} is not staged here" if ref is not None else "left out by the placement gate"
    return {c.name: why for c in clusters if c.name not in kept}


def placement_change(changes: Sequence[str], *, now: float) -> dict[str, str]:
    """`status.lastPlacementChange`: when replicas were last created or deleted, and which (pure)."""
    return {"time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "message": "; ".join(changes)}


@dataclass
class FleetSnapshot:
    """One read of what plans depend on, shared by every deployment planned in a pass."""

    clusters: list[InferenceCluster]
    classes: list[InferenceClass]
    replicas: list[ModelReplica]
    deployments: dict[ObjectKey, ModelDeployment]

    @classmethod
    def read(cls, store: Store, keys: Sequence[ObjectKey]) -> FleetSnapshot:
        return cls(
            clusters=store.list(InferenceCluster).items,
            classes=store.list(InferenceClass).items,
            replicas=store.list(ModelReplica).items,
            deployments=cls.deployments_of(store, keys),
        )

    @staticmethod
    def deployments_of(store: Store, keys: Sequence[ObjectKey]) -> dict[ObjectKey, ModelDeployment]:
        """The deployments to plan, read from the store (their status is written back with
        their resourceVersion, so they are never taken from a copy)."""
        if len(keys) > LIST_DEPLOYMENTS_FROM:
            wanted = set(keys)
            return {d.key: d for d in store.list(ModelDeployment).items if d.key in wanted}
        deployments = {}
        for key in keys:
            found = store.find(ModelDeployment, key)
            if found is not None:
                deployments[key] = found
        return deployments


LIST_DEPLOYMENTS_FROM = 20
"""A pass over more keys than this lists every deployment once instead of reading each."""


class DeploymentController:
    """Plans one deployment per reconcile, reading the fleet each time (one at a time)."""

    name = "modeldeployment"
    kind = "ModelDeployment"

    def __init__(self, ctx: ControlContext, *, matcher: DeviceMatcher = DEFAULT_MATCHER) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.matcher = matcher
        self.memo: PlanMemo | None = None  # one at a time reads everything afresh, as it always did
        self.wakeups = PlanWakeups()
        self.watches: Mapping[str, KeyMapper] = {
            "ModelReplica": self.wakeups.replica_changed,
            "InferenceCluster": self.wakeups.cluster_changed,
            "InferenceClass": self.wakeups.class_changed,
            "ModelCache": deployments_using_cache(self.store),
        }

    async def reconcile(self, key: ObjectKey) -> Result:
        return self.plan_pass([key]).get(key, Result())

    def snapshot(self, keys: Sequence[ObjectKey]) -> FleetSnapshot:
        """What a pass plans against: read from the store each time."""
        return FleetSnapshot.read(self.store, keys)

    def wrote(self, obj: ModelReplica) -> None:
        """A replica this controller created or updated (a cache would record it)."""

    def deleting(self, replica: ModelReplica) -> None:
        """A replica this controller asked the store to delete."""

    def plan_pass(self, keys: Sequence[ObjectKey]) -> dict[ObjectKey, Result]:
        """Plan the deployments named by `keys` together over one snapshot of the fleet, apply
        each difference and report each status; returns when to look again, per key."""
        snapshot = self.snapshot(keys)
        now = self.ctx.clock()
        lost = lost_clusters(snapshot.clusters, now=now)
        todo = [
            d for key in dict.fromkeys(keys) if (d := snapshot.deployments.get(key)) is not None and not d.metadata.deletion_timestamp
        ]  # a deployment being deleted: the garbage collector removes the replicas it owns
        gates = {d.key: placement_gate_for(self.store, d, snapshot.clusters) for d in todo}
        placements = plan_fleet(
            todo,
            clusters=snapshot.clusters,
            classes=snapshot.classes,
            replicas=snapshot.replicas,
            matcher=self.matcher,
            closed={d.key: closed_by_cache(d, snapshot.clusters, gates[d.key].clusters) for d in todo},
            lost=lost.names,
            memo=self.memo,
        )
        planned = {(d.namespace, d.name): d.key for d in todo}
        by_owner: dict[ObjectKey, dict[str, ModelReplica]] = {}
        for r in snapshot.replicas:
            meta = r.metadata
            owner = meta.labels.get(DEPLOYMENT_LABEL)
            key = planned.get((meta.namespace or "", owner)) if owner else None
            if key is not None:
                by_owner.setdefault(key, {})[meta.name] = r
        results: dict[ObjectKey, Result] = {}
        created: list[ModelReplica] = []
        deployments = {d.key: d for d in todo}
        unready = {c.name for c in snapshot.clusters if not is_true(c.status.conditions, "Ready")} - lost.names
        for placement in placements:
            deployment = deployments[placement.deployment]
            mine = by_owner.get(deployment.key, {})
            if placement.condition.reason not in BAD_EDIT_REASONS and outdated(deployment, placement, mine):
                placement = self._with_surge(deployment, placement, snapshot, [*snapshot.replicas, *created],
                                             closed_by_cache(deployment, snapshot.clusters, gates[deployment.key].clusters), lost.names)
            created += self._settle(deployment, placement, mine, gates[deployment.key])
            again = self._look_again(placement, unready, lost, now)
            if again is not None:
                results[deployment.key] = Result(requeue_after=again)
        self.wakeups.planned(
            short=[p.deployment for p in placements if p.short],
            settled=[p.deployment for p in placements if not p.short],
            created=created,
        )
        return results

    @staticmethod
    def _look_again(placement: Placement, unready: set[str], lost: LostClusters, now: float) -> float | None:
        """When to plan this deployment again without being told: while replicas are stranded
        (a backstop; their replacements turning Ready wake it too), when the grace period of a
        NotReady cluster (or pool of machines) holding its replicas ends (no event marks that
        moment), and while it is short of replicas. The last is a backstop too: capacity that
        frees up wakes a short deployment through `wakeups`, and the manager's resync replays
        only missed events, so without it a wake-up `wakeups` failed to give would leave the
        deployment waiting for good instead of for one `SHORT_RECHECK_SECONDS`."""
        times: list[float] = []
        if placement.stranded:
            times.append(STRANDED_RECHECK_SECONDS)
        if lost.next_at is not None and any(r.cluster in unready or r.cluster in lost.pending for r in placement.replicas):
            times.append(max(0.0, lost.next_at - now) + 0.5)
        if placement.short:
            times.append(SHORT_RECHECK_SECONDS)
        return min(times, default=None)

    def _settle(self, deployment: ModelDeployment, placement: Placement, mine: dict[str, ModelReplica], gate: PlacementGate) -> list[ModelReplica]:
        """Apply one deployment's plan and write its status; returns the replicas created."""
        frozen = placement.condition.reason in BAD_EDIT_REASONS
        desired, rollout = desired_replicas(deployment, placement, mine, frozen=frozen)
        changed, created = self._apply(desired, mine)
        if changed:
            log.info("placement of %s changed: %s", deployment.key, "; ".join(changed))
        moved = [c for c in changed if not c.startswith("updated ")]

        stranded = set(placement.stranded)
        ready = sum(1 for name in desired if name in mine and name not in stranded and is_true(mine[name].status.conditions, "Ready"))
        c = gate.explain(placement.condition)
        fields: dict[str, object] = {"replicas": {"total": len(placement.replicas) - len(stranded), "ready": ready}, "rollout": rollout.status()}
        if moved:
            fields["last_placement_change"] = placement_change(moved, now=self.ctx.clock())
        try:
            write_status(
                self.store,
                deployment,
                conditions=[
                    ConditionUpdate("ReplicasScheduled", c.status, c.reason, c.message),
                    replicas_ready_condition(
                        placement, ready, waiting_for_cache(mine[n] for n in sorted(desired) if n in mine and n not in stranded)
                    ),
                    rollout.condition(),
                ],
                fields=fields,
                now=rfc3339(self.ctx.clock()),
            )
        except Conflict:
            pass  # the deployment was written since the snapshot: that write queues it again
        return created

    def _with_surge(
        self,
        deployment: ModelDeployment,
        placement: Placement,
        snapshot: FleetSnapshot,
        replicas: Sequence[ModelReplica],
        closed: dict[str, str],
        lost: frozenset[str],
    ) -> Placement:
        """During a rollout (`control.rolling`): the plan with the surge replicas when placement
        fits them all (`replicas` includes those this pass created for other deployments, so
        the surge never takes capacity twice), else the plan as it was: the rollout then goes
        one replica at a time."""
        surge = strategy_of(deployment).max_surge
        if surge <= 0 or deployment.spec.paused:
            return placement
        trial = deployment.model_copy(update={"spec": deployment.spec.model_copy(update={"replicas": deployment.spec.replicas + surge})})
        surged = plan(trial, clusters=snapshot.clusters, classes=snapshot.classes, replicas=replicas, matcher=self.matcher,
                      closed=closed, lost=lost)
        if surged.short:
            return placement
        return dataclasses.replace(surged, wanted=placement.wanted)

    def _apply(self, desired: dict[str, ModelReplica], mine: dict[str, ModelReplica]) -> tuple[list[str], list[ModelReplica]]:
        changed = []
        created = []
        for name, obj in desired.items():
            current = mine.get(name)
            if current is None:
                try:
                    made = self.store.create(obj)
                    self.wrote(made)
                    created.append(made)
                    changed.append(f"created {name} on {obj.spec.cluster_name}")
                except AlreadyExists:
                    pass  # created since we listed; the next reconcile sees it
                continue
            if current.metadata.deletion_timestamp:
                continue
            if (
                current.spec.wire() != obj.spec.wire()
                or current.metadata.labels != obj.metadata.labels
                or current.metadata.annotations != obj.metadata.annotations
            ):
                update = current.model_copy(
                    update={
                        "spec": obj.spec,
                        "metadata": current.metadata.model_copy(update={"labels": obj.metadata.labels, "annotations": obj.metadata.annotations}),
                    }
                )
                try:
                    updated = self.store.update(update)
                    self.wrote(updated)
                    changed.append(f"updated {name}")
                except (Conflict, NotFound):
                    pass  # written or removed since the snapshot: its event queues this deployment again
        for name, current in mine.items():
            if name not in desired and not current.metadata.deletion_timestamp:
                try:
                    self.store.delete(ModelReplica, current.key)
                    self.deleting(current)
                    changed.append(f"deleted {name} from {current.spec.cluster_name}")
                except NotFound:
                    pass
        return changed, created


class BatchedDeploymentController(DeploymentController):
    """Plans every deployment that needs it in one pass over one snapshot of the fleet: the
    manager hands it all the keys that are ready at once (see control.base.BatchController).
    The snapshot comes from a copy kept from the manager's events (control.fleetcache), not
    from listing the store on every pass."""

    batch_limit = 5000

    def __init__(self, ctx: ControlContext, *, matcher: DeviceMatcher = DEFAULT_MATCHER) -> None:
        super().__init__(ctx, matcher=matcher)
        self.cache = FleetCache(self.store)
        self.memo = PlanMemo()
        wake = self.watches

        def observed(mapper: KeyMapper) -> KeyMapper:
            def keys(obj: Resource) -> Iterable[ObjectKey]:
                self.cache.observe(obj)
                return mapper(obj)

            return keys

        self.watches = {kind: observed(mapper) for kind, mapper in wake.items()}

    async def reconcile_batch(self, keys: Sequence[ObjectKey]) -> Mapping[ObjectKey, Result]:
        return self.plan_pass(keys)

    def snapshot(self, keys: Sequence[ObjectKey]) -> FleetSnapshot:
        cache = self.cache.fresh()
        return FleetSnapshot(
            clusters=cache.clusters.values(),
            classes=cache.classes.values(),
            replicas=cache.replicas.values(),
            deployments=FleetSnapshot.deployments_of(self.store, keys),
        )

    def wrote(self, obj: ModelReplica) -> None:
        self.cache.observe(obj)

    def deleting(self, replica: ModelReplica) -> None:
        self.cache.deleting(replica, now_rfc3339())
