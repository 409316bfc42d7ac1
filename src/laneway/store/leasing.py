"""Lease rules: who holds a named lease after a request, as a pure function of the lease now.

A lease is held by one holder until `expires_at` (seconds on the wall clock every process
shares). Its holder renews it by acquiring again; anyone takes it over once it has expired.
`transitions` counts changes of holder, as Kubernetes' coordination leases do. There is no
fencing token: a holder that stalls past its TTL may act alongside the next one for a moment,
so leaders keep TTLs a few times longer than their renew period and stop acting when a renew
fails.
"""

from __future__ import annotations

from laneway.store.base import Lease


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
