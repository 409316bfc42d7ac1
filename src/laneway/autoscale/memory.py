"""The autoscaler's memory in the deployment's status, so a restart does not forget it (pure).

What the policy remembers (`PolicyState`) is small once compacted (`policy.compact`): the few
recent recommendations that can still decide a stabilization window, and when demand was
last seen. Without it a restarted control plane would drop replicas at once during a lull
(skipping `scaleDownStabilization`) and restart the `scaleToZeroAfter` clock.

It is stored under `status.autoscaling` as `history` (`[{at, replicas}, ...]`, `at` in the
controller clock's seconds since the epoch) and `lastActive` (only while idle).

The newest recommendation is stored too, with its time rounded down to `STORE_STEP` seconds:
under steady load compaction keeps *only* the newest (it outlasts every equal one before it),
so leaving it out stored an empty history, and a control plane restarted at peak scaled down
on its first momentary dip. Rounding keeps the status from being rewritten on every tick (at
most once per step while the recommendation holds) at the cost of an entry expiring up to one
step early after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from laneway.api.kinds.deployment import AutoscalingStatus
from laneway.autoscale.policy import PolicyState

STORE_STEP = 10.0
"""Seconds the newest recommendation's time is rounded down to when stored."""

HISTORY_FIELD = "history"
LAST_ACTIVE_FIELD = "lastActive"


def state_fields(state: PolicyState, now: float) -> dict[str, Any]:
    """The fields of `status.autoscaling` that carry `state` over a restart."""
    history = [{"at": round(t, 3), "replicas": r} for t, r in state.recommendations if t != now]
    newest = [(t, r) for t, r in state.recommendations if t == now]
    if newest:
        at = math.floor(now / STORE_STEP) * STORE_STEP
        if history:
            at = max(at, float(history[-1]["at"]))  # never before an older entry: both are kept
        history.append({"at": at, "replicas": newest[-1][1]})
    fields: dict[str, Any] = {HISTORY_FIELD: history}
    if state.last_active is not None and state.last_active != now:
        fields[LAST_ACTIVE_FIELD] = round(state.last_active, 3)
    return fields


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def state_from_status(autoscaling: AutoscalingStatus | Mapping[str, Any] | None, now: float) -> PolicyState:
    """The policy state a previous controller left in `status.autoscaling` (declared, or its wire
    form); a fresh state when there is none. Malformed entries (a hand-edited status) and times
    in the future (a clock that stepped back) are ignored rather than trusted."""
    if isinstance(autoscaling, AutoscalingStatus):
        autoscaling = autoscaling.wire()
    if not isinstance(autoscaling, Mapping):
        return PolicyState()
    recs: list[tuple[float, int]] = []
    history = autoscaling.get(HISTORY_FIELD)
    for entry in history if isinstance(history, list) else []:
        if not isinstance(entry, Mapping):
            continue
        t, r = _number(entry.get("at")), entry.get("replicas")
        if t is None or t > now or isinstance(r, bool) or not isinstance(r, int) or r < 0:
            continue
        recs.append((t, r))
    recs.sort(key=lambda e: e[0])
    last_active = _number(autoscaling.get(LAST_ACTIVE_FIELD))
    if last_active is not None and last_active > now:
        last_active = None
    return PolicyState(recommendations=tuple(recs), last_active=last_active)
