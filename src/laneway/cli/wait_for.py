"""What `laneway wait --for=...` waits for, parsed and checked as pure functions.

`condition=Ready` waits for the condition to be True; `condition=Ready=False` for another
status; `delete` for the object to be gone. The check is level-based: it reads the object's
current state, so a missed transition is never a missed wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from laneway.api.conditions import find_condition
from laneway.api.meta import Condition, Resource, status_of


@dataclass(frozen=True)
class WaitFor:
    what: Literal["condition", "delete"]
    condition: str = ""
    status: str = "True"

    def describe(self) -> str:
        return "deletion" if self.what == "delete" else f"condition {self.condition}={self.status}"


class BadWaitFor(ValueError):
    pass


def parse_wait_for(text: str) -> WaitFor:
    if text == "delete":
        return WaitFor("delete")
    if text.startswith("condition="):
        rest = text[len("condition="):]
        cond, _, status = rest.partition("=")
        if not cond:
            raise BadWaitFor(f"--for={text}: name a condition, e.g. --for=condition=Ready")
        status = status or "True"
        canonical = {"true": "True", "false": "False", "unknown": "Unknown"}.get(status.lower())
        if canonical is None:
            raise BadWaitFor(f"--for={text}: the status must be True, False or Unknown")
        return WaitFor("condition", cond, canonical)
    raise BadWaitFor(f"--for={text} is not understood: use --for=condition=NAME[=STATUS] or --for=delete")


def _condition(obj: Resource, type_: str) -> Condition | None:
    status = status_of(obj)
    return find_condition(status.conditions, type_) if status is not None else None


def is_met(want: WaitFor, obj: Resource | None) -> bool:
    """Whether the object (None: it does not exist) satisfies the wait."""
    if want.what == "delete":
        return obj is None
    if obj is None:
        return False
    c = _condition(obj, want.condition)
    return c is not None and c.status == want.status


def progress(want: WaitFor, obj: Resource | None) -> str:
    """Where the object stands, for the message when the wait times out."""
    if obj is None:
        return "the object does not exist"
    if want.what == "delete":
        since = obj.metadata.deletion_timestamp
        return f"it is still there{' (deleting since ' + since + ')' if since else ''}"
    c = _condition(obj, want.condition)
    if c is None:
        return f"it has no {want.condition} condition yet"
    detail = ": ".join(x for x in (c.reason, c.message) if x)
    return f"{want.condition} is {c.status}{' (' + detail + ')' if detail else ''}" + _blockers(obj, want.condition)


def _blockers(obj: Resource, waited: str) -> str:
    """The object's other conditions that are not True, one per line: where the scheduler says
    why nothing was placed (`ReplicasScheduled`), which the waited-for condition only follows."""
    status = status_of(obj)
    conditions = status.conditions if status is not None else []
    lines = [
        f"\n  {c.type} is {c.status}" + (f" ({': '.join(x for x in (c.reason, c.message) if x)})" if c.reason or c.message else "")
        for c in conditions
        if c.type != waited and c.status != "True"
    ]
    return "".join(lines)
