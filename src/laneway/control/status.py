"""Status bookkeeping for controllers: set conditions, record observedGeneration, and write
the status only when it changed.

Why "only when it changed": every status write bumps the global revision and wakes every
watcher, including the controller that wrote it. A controller that rewrote an unchanged
status on each reconcile would trigger itself forever. `set_condition` keeps
lastTransitionTime unless a condition's status flips, so an unchanged outcome yields a
byte-identical status, and `write_status` then skips the write.

A write carries the resourceVersion the object was read at; if someone wrote the object in
between, the store raises `Conflict` and the reconcile fails and is retried (reading fresh
state), which is the usual optimistic-concurrency loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from laneway.api.conditions import set_condition
from laneway.api.meta import ConditionStatus, Resource, Status
from laneway.api.meta import status_of as status_of_kind
from laneway.store.base import Store

R = TypeVar("R", bound=Resource)
S = TypeVar("S", bound=Status)


@dataclass(frozen=True)
class ConditionUpdate:
    """One condition a reconcile wants to report: `Ready=True (Available): 2 of 2 replicas`."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


class NoStatus(TypeError):
    """The kind has no status (a Secret): there is nothing for a controller to report."""


def status_of(obj: Resource) -> Status:
    """The object's status model; raises NoStatus for kinds without one."""
    status = status_of_kind(obj)
    if status is None:
        raise NoStatus(f"{obj.kind} {obj.key} has no status subresource; controllers cannot report on it")
    return status


def apply_conditions(
    status: S,
    updates: Iterable[ConditionUpdate],
    *,
    observed_generation: int | None,
    now: str | None = None,
) -> S:
    """A copy of `status` with each update set and observedGeneration recorded; pure when
    `now` (the time a flipped condition is stamped with) is given."""
    conditions = list(status.conditions)
    for u in updates:
        conditions = set_condition(
            conditions,
            type=u.type,
            status=u.status,
            reason=u.reason,
            message=u.message,
            observed_generation=observed_generation,
            now=now,
        )
    return status.model_copy(update={"conditions": conditions, "observed_generation": observed_generation})


def status_changed(before: Status, after: Status) -> bool:
    """Whether two statuses differ on the wire (the comparison `write_status` makes)."""
    return before.wire() != after.wire()


def desired_status(
    obj: R,
    *,
    status: Status | None = None,
    conditions: Iterable[ConditionUpdate] = (),
    fields: dict[str, Any] | None = None,
    now: str | None = None,
) -> Status:
    """The status `write_status` would store, without writing (pure when `now` is given).

    Starts from `status` (a status the controller computed) or the object's stored status,
    applies `fields` (status fields by their Python names, e.g. `{"replicas": ...}`), then the
    condition updates, and records the object's generation as observedGeneration.
    """
    base = status if status is not None else status_of(obj)
    if fields:
        # Validate through the status model so a value of the wrong shape fails here, in the
        # controller that made it, instead of as a broken document in the store. (Status
        # models keep unknown fields, so later controllers can extend a status.)
        data = base.model_dump(by_alias=False)
        data.update(fields)
        base = type(base).model_validate(data)
    return apply_conditions(base, conditions, observed_generation=obj.metadata.generation, now=now)


def write_status(
    store: Store,
    obj: R,
    *,
    status: Status | None = None,
    conditions: Iterable[ConditionUpdate] = (),
    fields: dict[str, Any] | None = None,
    now: str | None = None,
) -> R:
    """Write obj's status if the desired one differs from what is stored; return the object
    as stored afterwards (unchanged `obj` when nothing was written).

    `obj` must be the object as last read from the store: its status is what is compared
    against and its resourceVersion guards the write (a stale one raises `Conflict`).
    """
    current = status_of(obj)
    wanted = desired_status(obj, status=status, conditions=conditions, fields=fields, now=now)
    if not status_changed(current, wanted):
        return obj
    return store.update_status(obj.model_copy(update={"status": wanted}))
