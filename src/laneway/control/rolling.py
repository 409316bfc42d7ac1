"""Rolling updates: which replicas of a deployment take a new template now (pure).

A template edit used to update every replica at once, so a 3-replica deployment went 3 -> 0
Ready for the length of an engine start. `rollout_step` decides, from the replicas as they
are, how many replicas to plan and which old ones to update in place now, the way a
Kubernetes Deployment's `RollingUpdate` strategy does:

- `maxSurge` extra replicas (default 1) are planned while old ones remain; they are composed
  from the new template. When placement cannot fit the surge (no spare capacity), the update
  goes one replica at a time instead (`maxUnavailable` of at least 1), since nothing else can
  make progress;
- at least `wanted - maxUnavailable` replicas stay Ready (default `maxUnavailable` 0: the
  serving count never drops below the deployment's size while a surge fits);
- an old replica that is not Ready is updated first (it serves nothing); a Ready one is
  updated only while the Ready count allows, lowest index first;
- a replica counts as Ready for the new template only once its replica controller has
  observed the new generation (`ReplicaView.ready`), so one update waits for the last;
- `paused` updates nothing (and keeps a surge replica already there); an updated replica
  whose engines crash-loop marks the rollout `Failed`, and since it never turns Ready, no
  further old replica is touched: the old ones keep serving until the template is fixed or
  `laneway rollout undo` restores the last one.

The surge replicas are the highest indexes, so when the rollout completes the plan returns
to `wanted` and the scheduler's scale-down (highest index first) removes them, through the
same draining every scale-down gets (see `control.replica`).

What it does not do: choose *which* cluster a surge lands on (the scheduler does), or move
replicas; an update is always in place on the replica's own cluster (rule 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RolloutState = Literal["Complete", "Progressing", "Paused", "Failed"]

DEFAULT_MAX_SURGE = 1
DEFAULT_MAX_UNAVAILABLE = 0


@dataclass(frozen=True)
class ReplicaView:
    """One replica as the rollout sees it."""

    name: str
    index: int
    current: bool
    """Its spec is the deployment's template now (nothing to update)."""
    ready: bool
    """Ready, for the generation it has now (an updated replica is not Ready until restarted)."""
    failed: bool = False
    """Its engines crash-loop (phase Failed)."""


@dataclass(frozen=True)
class Strategy:
    max_surge: int = DEFAULT_MAX_SURGE
    max_unavailable: int = DEFAULT_MAX_UNAVAILABLE
    paused: bool = False


@dataclass(frozen=True)
class RolloutStep:
    plan_count: int
    """How many replicas to plan: `wanted`, plus the surge while old replicas remain."""
    update: frozenset[str]
    """Old replicas to give the new template now (the others keep their spec)."""
    state: RolloutState
    updated: int
    """Replicas (of those counted) on the new template."""
    ready: int
    total: int
    message: str


def resolve_count(value: int | str | None, wanted: int, *, default: int, round_up: bool) -> int:
    """An absolute count from an int or a percentage of `wanted` ("25%"), as Kubernetes reads
    maxSurge (rounded up) and maxUnavailable (rounded down). Validation has checked the form."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    whole, rest = divmod(percent * wanted, 100)
    return whole + (1 if round_up and rest else 0)


def rollout_step(replicas: Sequence[ReplicaView], *, wanted: int, strategy: Strategy, surge_fits: bool) -> RolloutStep:
    """The next step of the rollout (see the module docstring). `replicas` are the deployment's
    existing replicas, surge ones included; `surge_fits` says whether placement can place
    `wanted + maxSurge` replicas."""
    old = sorted((r for r in replicas if not r.current), key=lambda r: r.index)
    updated = sum(1 for r in replicas if r.current and r.index < wanted)
    ready = sum(1 for r in replicas if r.ready)
    failed = [r for r in replicas if r.current and r.failed]
    if not old:
        return RolloutStep(wanted, frozenset(), "Complete", updated, ready, len(replicas),
                           f"{updated} of {wanted} replicas on the current template, {ready} ready")
    if strategy.paused:
        return RolloutStep(wanted, frozenset(), "Paused", updated, ready, len(replicas),
                           f"paused with {updated} of {wanted} replicas updated; set spec.paused to false to continue")
    total = len(replicas)
    surge = strategy.max_surge if surge_fits else 0
    unavailable = strategy.max_unavailable if surge > 0 else max(1, strategy.max_unavailable)
    min_ready = max(0, wanted - unavailable)
    budget = ready - min_ready
    chosen = [r.name for r in old if not r.ready]  # serves nothing now: nothing to lose
    for r in old:
        if r.ready and budget > 0:
            chosen.append(r.name)
            budget -= 1
    if failed:
        names = ", ".join(r.name for r in failed[:3])
        return RolloutStep(wanted + surge, frozenset(r.name for r in old if not r.ready), "Failed", updated, ready, total,
                           f"updated replica(s) {names} crash-loop on the new template; {len(old)} old replica(s) keep serving. "
                           "Fix the template, or restore the last one with 'laneway rollout undo'")
    how = f"surge {surge}" if surge else "one at a time (no capacity for a surge replica)" if strategy.max_surge else f"maxUnavailable {unavailable}"
    return RolloutStep(wanted + surge, frozenset(chosen), "Progressing", updated, ready, total,
                       f"{updated} of {wanted} replicas updated, {ready} ready; {how}, keeping at least {min_ready} ready")
