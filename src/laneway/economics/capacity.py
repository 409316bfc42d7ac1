"""The cost of the capacity replicas held over a window.

A replica holds part of one pool from its creation until its deletion; a replica never changes
cluster (moving is delete plus create), so one that moved is two holdings, each charged for its
own overlap with the window. A pool accounted by Node charges every node a replica's pods sit
on for the whole time; one accounted by Device charges only the devices claimed. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

HOUR = 3600.0


class MixedCurrencies(ValueError):
    """Prices in more than one currency were summed: laneway converts none of them."""


@dataclass(frozen=True)
class Window:
    """A span of time in seconds since the epoch, `start` < `end`."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(
                f"a window ends after it starts; got start {self.start} and end {self.end}"
            )

    @property
    def hours(self) -> float:
        return (self.end - self.start) / HOUR

    def overlap(self, start: float, end: float | None) -> float:
        """Seconds of [start, end) inside the window; `end` None: still running at the window's end."""
        stop = self.end if end is None else min(end, self.end)
        return max(0.0, stop - max(start, self.start))


@dataclass(frozen=True)
class PoolPrice:
    """What one pool charges: its class's pricing and the pool's accounting."""

    per_node_hour: float
    currency: str
    accounting: Literal["Node", "Device"] = "Node"
    devices_per_node: int = 1
    per_device_hour: float | None = None

    def device_hour(self) -> float:
        """A device's hourly price: declared, or else the node price split over its devices."""
        if self.per_device_hour is not None:
            return self.per_device_hour
        return self.per_node_hour / max(1, self.devices_per_node)

    def hourly(self, *, nodes: int, devices: int) -> float:
        """What holding `nodes` nodes (and `devices` devices on them) costs per hour here."""
        if self.accounting == "Device":
            return devices * self.device_hour()
        return nodes * self.per_node_hour


@dataclass(frozen=True)
class Holding:
    """What one replica held on one pool from `start` until `end` (None: it still holds it)."""

    replica: str
    pool: str
    nodes: int
    devices: int
    start: float
    price: PoolPrice
    end: float | None = None

    def cost(self, window: Window) -> float:
        return (
            self.price.hourly(nodes=self.nodes, devices=self.devices)
            * window.overlap(self.start, self.end)
            / HOUR
        )

    def hours(self, window: Window) -> float:
        return window.overlap(self.start, self.end) / HOUR


@dataclass(frozen=True)
class CapacityCost:
    """The capacity cost over a window: in total, per replica, and the replica-hours held."""

    total: float
    currency: str
    replica_hours: float
    by_replica: Mapping[str, float] = field(default_factory=dict)


def capacity_cost(
    holdings: Sequence[Holding], window: Window, *, currency: str = "USD"
) -> CapacityCost:
    """Sum each holding's overlap with `window` at its pool's price. `currency` names the result
    when there are no holdings; holdings in another currency raise `MixedCurrencies`."""
    currencies = sorted({h.price.currency for h in holdings})
    if len(currencies) > 1:
        raise MixedCurrencies(
            f"the replicas' pools are priced in {', '.join(currencies)}; laneway converts no currency: "
            "price every InferenceClass these replicas run on in one currency"
        )
    by_replica: dict[str, float] = {}
    hours = 0.0
    for h in holdings:
        by_replica[h.replica] = by_replica.get(h.replica, 0.0) + h.cost(window)
        hours += h.hours(window)
    return CapacityCost(
        total=sum(by_replica.values()),
        currency=currencies[0] if currencies else currency,
        replica_hours=hours,
        by_replica=dict(sorted(by_replica.items())),
    )
