"""From a deployment's plan and its replicas to the replicas to write, one rollout step at a
time (pure; the deployment controller does the I/O).

`control.rolling` decides on plain records; this module reads them off the objects: which
replica is on the current template (its spec equals what the template composes for its
placement), which is Ready for the generation it has, which crash-loops. A replica that is not
chosen for an update this step keeps its stored spec, so its engines keep running as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from laneway.api.conditions import is_true
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.labels import REPLICA_INDEX_LABEL
from laneway.control.rolling import (
    DEFAULT_MAX_SURGE,
    DEFAULT_MAX_UNAVAILABLE,
    ReplicaView,
    RolloutStep,
    Strategy,
    resolve_count,
    rollout_step,
)
from laneway.control.status import ConditionUpdate
from laneway.placement.compose import compose_replica
from laneway.placement.model import Placement


def strategy_of(deployment: ModelDeployment) -> Strategy:
    """The deployment's rolling update settings as counts of replicas."""
    spec = deployment.spec
    rolling = spec.strategy.rolling_update if spec.strategy is not None else None
    wanted = spec.replicas
    return Strategy(
        max_surge=resolve_count(rolling.max_surge if rolling else None, wanted, default=DEFAULT_MAX_SURGE, round_up=True),
        max_unavailable=resolve_count(
            rolling.max_unavailable if rolling else None, wanted, default=DEFAULT_MAX_UNAVAILABLE, round_up=False
        ),
        paused=bool(spec.paused),
    )


def ready_for_its_generation(replica: ModelReplica) -> bool:
    """Ready, as observed for the spec it has now (not a Ready left from before an update)."""
    return is_true(replica.status.conditions, "Ready") and replica.status.observed_generation == replica.metadata.generation


def _index(replica: ModelReplica) -> int:
    text = replica.metadata.labels.get(REPLICA_INDEX_LABEL, "")
    return int(text) if text.isdigit() else 0


def _current(current: ModelReplica, composed: ModelReplica) -> bool:
    return current.spec.wire() == composed.spec.wire()


def outdated(deployment: ModelDeployment, placement: Placement, mine: Mapping[str, ModelReplica]) -> bool:
    """Whether some existing replica of the plan is not on the deployment's template."""
    for placed in placement.replicas:
        composed = compose_replica(deployment, placed)
        current = mine.get(composed.name)
        if current is not None and not current.metadata.deletion_timestamp and not _current(current, composed):
            return True
    return False


@dataclass(frozen=True)
class RolloutReport:
    step: RolloutStep

    def status(self) -> dict[str, object]:
        s = self.step
        return {"state": s.state, "updated": s.updated, "ready": s.ready, "total": s.total, "message": s.message}

    def condition(self) -> ConditionUpdate:
        """`Progressing`, as Kubernetes names it: True while updating or complete, False when
        paused or failed (with what to do)."""
        s = self.step
        if s.state == "Complete":
            return ConditionUpdate("Progressing", "True", "RolloutComplete", s.message)
        if s.state == "Progressing":
            return ConditionUpdate("Progressing", "True", "RollingUpdate", s.message)
        if s.state == "Paused":
            return ConditionUpdate("Progressing", "False", "RolloutPaused", s.message)
        return ConditionUpdate("Progressing", "False", "RolloutFailed", s.message)


def desired_replicas(
    deployment: ModelDeployment, placement: Placement, mine: Mapping[str, ModelReplica], *, frozen: bool
) -> tuple[dict[str, ModelReplica], RolloutReport]:
    """The replicas to store for this plan, old ones updated only as the rollout step allows.

    A bad edit (`frozen`) keeps running replicas as they run: rolling its broken selectors onto
    them would hand a driver device requests it cannot satisfy (rule 4)."""
    composed: dict[str, ModelReplica] = {}
    views = []
    for placed in placement.replicas:
        obj = compose_replica(deployment, placed)
        composed[obj.name] = obj
        current = mine.get(obj.name)
        if current is None:  # created now, from the template
            views.append(ReplicaView(name=obj.name, index=placed.index, current=True, ready=False))
            continue
        if current.metadata.deletion_timestamp:
            continue
        views.append(
            ReplicaView(
                name=obj.name,
                index=_index(current),
                current=frozen or _current(current, obj),
                ready=ready_for_its_generation(current),
                failed=current.status.phase == "Failed",
            )
        )
    step = rollout_step(
        views, wanted=placement.wanted, strategy=strategy_of(deployment), surge_fits=len(placement.replicas) > placement.wanted
    )
    desired: dict[str, ModelReplica] = {}
    for name, obj in composed.items():
        current = mine.get(name)
        if current is None:
            desired[name] = obj
        elif frozen:
            desired[name] = current
        elif _current(current, obj) or name in step.update:
            desired[name] = obj
        else:
            desired[name] = current
    return desired, RolloutReport(step)
