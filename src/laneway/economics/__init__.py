"""Economics: what a service's tokens cost self-hosted, and what they would cost bought.

Everything here is a pure function of plain data (prices, what replicas held and when, metered
tokens), so the report (`laneway economics`), the ModelService status and the metrics all come
from the same arithmetic and a unit test can pin each figure.

- `capacity`: the cost of the capacity replicas occupied over a window. A pool accounted by
  Node charges whole nodes (what a replica's pods sit on); one accounted by Device charges the
  devices the replica claimed, at `perDeviceHour` or else the node price split evenly over the
  node's devices. Holdings are intervals, so partial windows and replicas that moved (deleted
  on one pool, created on another) are sums of overlaps.
- `tokens`: token prices per million input and output tokens, the cost of metered tokens at
  them, and cost per million.
- `breakeven`: the token rate at which self-hosting costs what the provider would, and the
  utilisation that rate means against a replica's throughput.

What it does not do: convert currencies (figures in different currencies are refused, never
added), amortise purchases, or price idle capacity of a pool no replica holds.
"""

from laneway.economics.breakeven import (
    break_even_tokens_per_hour,
    break_even_utilisation,
)
from laneway.economics.capacity import (
    CapacityCost,
    Holding,
    MixedCurrencies,
    PoolPrice,
    Window,
    capacity_cost,
)
from laneway.economics.tokens import TokenPrice, Tokens, cost_per_million, token_cost

__all__ = [
    "CapacityCost",
    "Holding",
    "MixedCurrencies",
    "PoolPrice",
    "TokenPrice",
    "Tokens",
    "Window",
    "break_even_tokens_per_hour",
    "break_even_utilisation",
    "capacity_cost",
    "cost_per_million",
    "token_cost",
]
