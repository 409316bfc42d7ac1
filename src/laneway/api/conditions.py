"""Status conditions: set one without churning lastTransitionTime when nothing changed."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.api.meta import Condition, ConditionStatus, now_rfc3339


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    for c in conditions:
        if c.type == type_:
            return c
    return None


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    c = find_condition(conditions, type_)
    return c is not None and c.status == "True"


def set_condition(
    conditions: list[Condition],
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str = "",
    observed_generation: int | None = None,
    now: str | None = None,
) -> list[Condition]:
    """Return the list with `type` set. The transition time moves only when the status flips,
    so reconciling twice writes the same document (controllers stay idempotent). A flip is
    stamped `now` (an RFC 3339 time, see `meta.rfc3339`); without it, the wall clock is read,
    so callers that must be pure (a controller's decision, a test) pass it."""
    stamp = now if now is not None else now_rfc3339()
    out: list[Condition] = []
    replaced = False
    for c in conditions:
        if c.type != type:
            out.append(c)
            continue
        replaced = True
        when = c.last_transition_time if c.status == status and c.last_transition_time else stamp
        out.append(
            Condition(
                type=type,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=when,
                observed_generation=observed_generation,
            )
        )
    if not replaced:
        out.append(
            Condition(
                type=type,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=stamp,
                observed_generation=observed_generation,
            )
        )
    return out
