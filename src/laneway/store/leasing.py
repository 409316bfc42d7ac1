"""Lease rules: who holds a named lease after a request, as a pure function of the lease now.

A lease is held by one holder until `expires_at` (seconds on the wall clock every process
shares). Its holder renews it by acquiring again; anyone takes it over once it has expired.
`transitions` counts changes of holder, as Kubernetes' coordination leases do, and is the
lease's fencing token: it only grows, and every new term of any holder gets a larger one. A
write made under a `Fence` (lease name, holder, token) is checked in the same transaction as
the write (`check_fence`): once another holder has taken the lease, or the lease has expired,
the paused former holder's late writes are refused instead of applied. Leaders still keep TTLs
a few times longer than their renew period and stop acting when a renew fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from laneway.store.base import Conflict, Lease


class Fenced(Conflict):
    """A write made under a lease its writer no longer holds (a newer term has begun, or the
    lease expired): refused, so a paused former leader cannot overwrite its successor's work."""

    reason = "Fenced"


@dataclass(frozen=True)
class Fence:
    """The term a writer acts in: `holder` held lease `lease` with fencing token `token`."""

    lease: str
    holder: str
    token: int


def check_fence(current: Lease | None, fence: Fence, *, now: float) -> None:
    """Raise Fenced unless `fence.holder` still holds `fence.lease` in term `fence.token`."""
    if current is None or current.holder != fence.holder or current.transitions != fence.token:
        holder = "nobody" if current is None or not current.holder else current.holder
        term = "never taken" if current is None else f"term {current.transitions}"
        raise Fenced(
            f"lease {fence.lease!r} is held by {holder} ({term}), not by {fence.holder} (term {fence.token}): "
            "this writer lost leadership and its write was refused"
        )
    if current.expires_at <= now:
        raise Fenced(
            f"lease {fence.lease!r} of {fence.holder} (term {fence.token}) expired before the write: refused; "
            "renew the lease before writing"
        )


def check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds > 0:
        raise ValueError(f"lease TTL must be a positive number of seconds, got {ttl_seconds!r}")


def next_lease(current: Lease | None, *, name: str, holder: str, ttl_seconds: float, now: float) -> Lease | None:
    """The lease after `holder` asks for it, or None when someone else holds it unexpired."""
    check_ttl(ttl_seconds)
    if not holder:
        raise ValueError("a lease holder needs a non-empty identity")
    expires_at = now + ttl_seconds
    if current is None:
        return Lease(name=name, holder=holder, expires_at=expires_at, transitions=0)
    if current.holder == holder:
        return Lease(name=name, holder=holder, expires_at=expires_at, transitions=current.transitions)
    if current.expires_at <= now:
        return Lease(name=name, holder=holder, expires_at=expires_at, transitions=current.transitions + 1)
    return None


def released(current: Lease | None, *, holder: str) -> Lease | None:
    """The lease after `holder` lets go (free at once), or None when `holder` does not hold it."""
    if current is None or current.holder != holder or not holder:
        return None
    return Lease(name=current.name, holder="", expires_at=0.0, transitions=current.transitions)
