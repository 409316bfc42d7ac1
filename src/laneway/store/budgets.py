"""Shared limit budgets: one token bucket per limit key, kept in the store. Pure rules.

Several gateway processes enforce one requests-per-minute or tokens-per-minute limit by
drawing from the same bucket in the store. A bucket holds `level` units at time `stamp` and
refills continuously at `per_second` up to `capacity` (a minute's allowance, so a caller may
burst a minute's worth, then gets the steady rate): the same rule as the gateway's in-process
`RateLimiter`, moved to where every process sees it.

`take` grants up to `want` units (never more than the bucket holds: units once granted are
gone, so the total granted can never exceed the limit, however many processes ask); `force`
charges what was already spent (tokens counted after the answer) and may take the bucket below
zero, which later takers then wait out. `give_back` returns units a process leased and did not
use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    level: float
    stamp: float
    capacity: float


@dataclass(frozen=True)
class Grant:
    """What a take got: `granted` units, and the bucket's level after (for Retry-After)."""

    granted: float
    level: float


def check(capacity: float, per_second: float, amount: float) -> None:
    if not capacity > 0 or not per_second > 0:
        raise ValueError(f"a budget needs a positive capacity and rate, got {capacity!r}, {per_second!r}")
    if amount < 0:
        raise ValueError(f"a budget amount cannot be negative, got {amount!r}")


def refilled(current: Budget | None, *, capacity: float, per_second: float, now: float) -> Budget:
    """The bucket at `now`: full when new or when its limit changed, else refilled since `stamp`."""
    if current is None or current.capacity != capacity:
        return Budget(level=capacity, stamp=now, capacity=capacity)
    if now <= current.stamp:
        return current
    return Budget(level=min(capacity, current.level + (now - current.stamp) * per_second), stamp=now, capacity=capacity)


def take(
    current: Budget | None, *, capacity: float, per_second: float, want: float, now: float, force: bool = False
) -> tuple[Budget, Grant]:
    check(capacity, per_second, want)
    bucket = refilled(current, capacity=capacity, per_second=per_second, now=now)
    granted = want if force else max(0.0, min(want, bucket.level))
    after = Budget(level=bucket.level - granted, stamp=bucket.stamp, capacity=capacity)
    return after, Grant(granted=granted, level=after.level)


def give_back(current: Budget | None, *, capacity: float, per_second: float, amount: float, now: float) -> Budget:
    check(capacity, per_second, amount)
    bucket = refilled(current, capacity=capacity, per_second=per_second, now=now)
    return Budget(level=min(capacity, bucket.level + amount), stamp=bucket.stamp, capacity=capacity)
