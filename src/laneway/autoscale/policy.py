"""The autoscaling policy: `decide(context) -> Decision`, a pure function of plain data.

In the spirit of Ray Serve's policies: everything the decision needs arrives in one
`AutoscalingContext` (the deployment's bounds, its current replica count, the demand seen,
the time, and the policy's own state from last time), and the answer carries the next state.
No clock, store or network is read here, so tests drive time by hand.

The rules:
- load is the larger of what the gateway sees (in flight + queued for the deployment's
  services) and what the engines report (running + waiting, e.g. `vllm:num_requests_*`);
  the raw recommendation is `ceil(load / targetInFlight)`;
- scale up fast: the recommendation is taken at once, or, with `scaleUpStabilization`, the
  lowest recommendation of that window (a spike must last to count);
- scale down slowly: the highest recommendation within `scaleDownStabilization` (default
  5 minutes) wins, so a lull does not drop replicas that the next burst needs;
- zero only after `scaleToZeroAfter` (default 5 minutes) without any demand, and only when
  `minReplicas` is 0; from zero, any demand asks for one replica at once;
- never below `minReplicas` nor above `maxReplicas`, nor above what placement can fit
  (`capacity`, when the caller knows it): then the reason says capacity is the limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Literal

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.deployment import Autoscaling

DEFAULT_SCALE_TO_ZERO_AFTER = 300.0
DEFAULT_SCALE_UP_STABILIZATION = 0.0
DEFAULT_SCALE_DOWN_STABILIZATION = 300.0


@dataclass(frozen=True)
class AutoscalingConfig:
    min_replicas: int
    max_replicas: int
    target_in_flight: float
    scale_to_zero_after: float = DEFAULT_SCALE_TO_ZERO_AFTER
    scale_up_stabilization: float = DEFAULT_SCALE_UP_STABILIZATION
    scale_down_stabilization: float = DEFAULT_SCALE_DOWN_STABILIZATION

    @classmethod
    def from_spec(cls, spec: Autoscaling) -> AutoscalingConfig:
        def seconds(text: str | None, default: float) -> float:
            return parse_duration(text) if text else default

        return cls(
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            target_in_flight=spec.target_in_flight,
            scale_to_zero_after=seconds(spec.scale_to_zero_after, DEFAULT_SCALE_TO_ZERO_AFTER),
            scale_up_stabilization=seconds(spec.scale_up_stabilization, DEFAULT_SCALE_UP_STABILIZATION),
            scale_down_stabilization=seconds(spec.scale_down_stabilization, DEFAULT_SCALE_DOWN_STABILIZATION),
        )


@dataclass(frozen=True)
class Demand:
    """Requests wanting this deployment right now. Engine numbers are None when not exported."""

    in_flight: float = 0.0
    queued: float = 0.0
    engine_running: float | None = None
    engine_waiting: float | None = None

    @property
    def load(self) -> float:
        gateway = self.in_flight + self.queued
        engines = (self.engine_running or 0.0) + (self.engine_waiting or 0.0)
        return max(gateway, engines)


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between decisions: recent recommendations and last demand."""

    recommendations: tuple[tuple[float, int], ...] = ()
    last_active: float | None = None


@dataclass(frozen=True)
class AutoscalingContext:
    config: AutoscalingConfig
    current_replicas: int
    demand: Demand
    now: float
    state: PolicyState = PolicyState()
    capacity: int | None = None
    """The most replicas placement can fit today (a dry run of the scheduler), if known."""


DecisionReason = Literal["Demand", "Stabilizing", "MinReplicas", "MaxReplicas", "CapacityLimited", "ScaleToZero", "ScaleFromZero", "Idle"]


@dataclass(frozen=True)
class Decision:
    replicas: int
    state: PolicyState
    reason: DecisionReason
    message: str
    wanted: int
    """What demand alone asks for (before the capacity limit), for the status."""

    @property
    def limited(self) -> bool:
        return self.reason in ("MinReplicas", "MaxReplicas", "CapacityLimited")


def _fmt(load: float) -> str:
    return f"{load:g}"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def compact(recs: tuple[tuple[float, int], ...]) -> tuple[tuple[float, int], ...]:
    """Drop the recommendations that can no longer decide anything (pure, exact).

    The windows are suffixes in time, so an entry matters to the scale-down maximum only while
    no later entry is as high, and to the scale-up minimum only while no later entry is as
    low. Keeping just those (and the newest) gives the same `up` and `down` for every window,
    and bounds the memory by the number of distinct replica counts instead of by ticks, which
    is what lets the controller keep it in the deployment's status."""
    kept: list[tuple[float, int]] = []
    high = low = None
    for t, r in reversed(recs):
        if high is None or low is None or r > high or r < low:
            kept.append((t, r))
        high = r if high is None else max(high, r)
        low = r if low is None else min(low, r)
    return tuple(reversed(kept))


def decide(ctx: AutoscalingContext) -> Decision:
    """The replica count for this moment (see the module docstring)."""
    cfg, now, current, load = ctx.config, ctx.now, ctx.current_replicas, ctx.demand.load
    last_active = now if load > 0 or ctx.state.last_active is None else ctx.state.last_active
    idle_for = now - last_active
    raw = math.ceil(load / cfg.target_in_flight) if load > 0 else 0
    to_zero = raw == 0 and cfg.min_replicas == 0 and idle_for >= cfg.scale_to_zero_after
    if raw == 0 and not to_zero:
        raw = min(current, 1)  # idle, but not for long enough to drop the last replica
    bounded = max(cfg.min_replicas, min(cfg.max_replicas, raw))

    horizon = max(cfg.scale_up_stabilization, cfg.scale_down_stabilization)
    recs = compact((*tuple((t, r) for t, r in ctx.state.recommendations if now - t <= horizon), (now, bounded)))
    up = min(r for t, r in recs if now - t <= cfg.scale_up_stabilization)
    down = max(r for t, r in recs if now - t <= cfg.scale_down_stabilization)
    if bounded > current:
        desired = max(current, up)
    elif bounded < current:
        desired = 0 if to_zero else min(current, down)
    else:
        desired = current
    from_zero = current == 0 and load > 0
    if from_zero:
        desired = max(desired, 1)
    desired = max(cfg.min_replicas, min(cfg.max_replicas, desired))
    wanted = desired
    state = PolicyState(recommendations=recs, last_active=last_active)

    load_text = f"load {_fmt(load)} at target {_fmt(cfg.target_in_flight)} per replica"
    if ctx.capacity is not None and desired > max(ctx.capacity, current) and desired > cfg.min_replicas:
        desired = max(ctx.capacity, current, cfg.min_replicas)
        return Decision(desired, state, "CapacityLimited",
                        f"{load_text} wants {wanted} replicas but placement fits only {desired}: capacity, not demand, is the limit", wanted)
    if from_zero and desired >= 1 and current == 0:
        return Decision(desired, state, "ScaleFromZero", f"{load_text}: first replica for waiting requests", wanted)
    if to_zero and desired == 0 and current > 0:
        return Decision(0, state, "ScaleToZero", f"no demand for {idle_for:g}s (scaleToZeroAfter {cfg.scale_to_zero_after:g}s)", wanted)
    raw_wanted = math.ceil(load / cfg.target_in_flight) if load > 0 else 0
    if desired == cfg.max_replicas and raw_wanted > cfg.max_replicas:
        return Decision(desired, state, "MaxReplicas", f"{load_text} wants {raw_wanted} replicas; maxReplicas is {cfg.max_replicas}", wanted)
    if desired == cfg.min_replicas and raw_wanted < cfg.min_replicas and desired == current:
        return Decision(desired, state, "MinReplicas", f"{load_text}; held at minReplicas {cfg.min_replicas}", wanted)
    if desired != bounded:
        return Decision(desired, state, "Stabilizing",
                        f"{load_text} suggests {bounded}; keeping {desired} within the stabilization window", wanted)
    if load == 0:
        # The time demand was last seen, not how long ago: a message that changed every tick
        # would rewrite an idle deployment's status every second.
        return Decision(desired, state, "Idle", f"no demand since {_when(last_active)}", wanted)
    return Decision(desired, state, "Demand", f"{load_text}", wanted)


def with_capacity(ctx: AutoscalingContext, capacity: int) -> AutoscalingContext:
    return replace(ctx, capacity=capacity)
