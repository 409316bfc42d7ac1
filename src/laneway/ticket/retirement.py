"""The retirement timeline of a deployment, as a pure function of its date and the clock.

A deployment (or the ticket that composes it) may carry `retireAfter`. Its life then has four
phases, decided here and nowhere else so the ticket controller, the rollout controller and
`laneway get md` never disagree:

- `Active`: more than the warning period before the date (or no date at all);
- `Warning`: within the warning period; the deployment and its service carry a
  `RetirementWarning` condition naming the date and the owner;
- `Retired`: from the date; the deployment is scaled to zero and its service answers
  410 Gone with a message naming the owner and the retirement;
- `Expired`: the grace period after the date has passed; the resources are deleted, all but
  the service, which stays a tombstone for the platform's tombstone period more
  (`TicketPolicy.tombstone`, `DEFAULT_TOMBSTONE` unless an InferenceGateway sets
  `spec.tickets.tombstonePeriod`): the gateway keeps answering 410 Gone with the owner's name
  instead of a bare 404, then it goes too.

A date without a time means the start of that day in UTC. Times are seconds since the epoch,
read from the controller's clock, so tests drive the whole timeline without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from laneway.api.kinds.common import parse_duration

Phase = Literal["Active", "Warning", "Retired", "Expired"]

DEFAULT_WARNING = "14d"
DEFAULT_GRACE = "7d"
DAY = 86400.0
DEFAULT_TOMBSTONE = "30d"
"""How long a ticket's retired service outlives its deletion, answering 410 with its owner's name,
when no InferenceGateway sets `spec.tickets.tombstonePeriod`."""


class BadRetirementDate(ValueError):
    """A retireAfter that is not a date; the message says how to write one."""


def parse_retire_after(text: str) -> float:
    """Seconds since the epoch of a `retireAfter` (YYYY-MM-DD, or an RFC 3339 time)."""
    value = text.strip()
    try:
        if len(value) == 10:
            moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise BadRetirementDate(
            f"retireAfter {text!r} is not a date: write it as YYYY-MM-DD (e.g. 2027-06-30) or an RFC 3339 time"
        ) from None
    return moment.timestamp()


@dataclass(frozen=True)
class RetirementRule:
    """When a deployment retires and how long its warning and grace periods last (seconds)."""

    retire_at: float
    warning: float
    grace: float
    date_text: str

    @classmethod
    def of(cls, retire_after: str, *, warn_before: str | None = None, grace_period: str | None = None) -> RetirementRule:
        return cls(
            retire_at=parse_retire_after(retire_after),
            warning=parse_duration(warn_before or DEFAULT_WARNING),
            grace=parse_duration(grace_period or DEFAULT_GRACE),
            date_text=retire_after,
        )


@dataclass(frozen=True)
class RetirementState:
    phase: Phase
    seconds_left: float | None
    """Until the retirement date (negative once past); None without a date."""
    next_change: float | None
    """Seconds until the phase changes next (a controller requeues then); None when final."""

    @property
    def days_left(self) -> int | None:
        """Whole days until the date, rounded down (0 on the day before; negative once past)."""
        if self.seconds_left is None:
            return None
        return int(self.seconds_left // DAY)


ACTIVE_FOREVER = RetirementState("Active", None, None)


def retirement_state(rule: RetirementRule | None, now: float) -> RetirementState:
    """Where `now` falls on the rule's timeline (pure)."""
    if rule is None:
        return ACTIVE_FOREVER
    left = rule.retire_at - now
    if left > rule.warning:
        return RetirementState("Active", left, left - rule.warning)
    if left > 0:
        return RetirementState("Warning", left, left)
    if -left < rule.grace:
        return RetirementState("Retired", left, rule.grace + left)
    return RetirementState("Expired", left, None)


def days_text(state: RetirementState) -> str:
    """`laneway get md`'s RETIRES column: `in 12d`, `today`, `retired 3d ago`, or `-`."""
    if state.seconds_left is None:
        return "-"
    if state.seconds_left > 0:
        days = state.days_left or 0
        return f"in {days}d" if days >= 1 else "in <1d"
    ago = int(-state.seconds_left // DAY)
    return f"retired {ago}d ago" if ago >= 1 else "retired today"


def gone_message(*, what: str, date_text: str, team: str | None, contact: str | None, how: str = "by its retirement rule") -> str:
    """The 410 Gone message a retired service answers with: what, since when, how, who to ask."""
    owner = team or "no owner on record"
    if contact:
        owner += f" ({contact})"
    return f"{what} was retired on {date_text} {how}; owner: {owner}"


def warning_message(*, what: str, state: RetirementState, date_text: str, team: str | None, contact: str | None) -> str:
    owner = team or "no owner on record"
    if contact:
        owner += f", {contact}"
    return f"{what} retires on {date_text} ({days_text(state)}); owner: {owner}. Move callers off it or extend retireAfter"
