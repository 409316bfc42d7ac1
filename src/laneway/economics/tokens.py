"""Token prices and the cost of metered tokens. Pure."""

from __future__ import annotations

from dataclasses import dataclass

MILLION = 1_000_000


@dataclass(frozen=True)
class Tokens:
    """Tokens the gateway metered: prompt (input) and completion (output)."""

    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.prompt + other.prompt, self.completion + other.completion)


@dataclass(frozen=True)
class TokenPrice:
    """A provider's price per million input and output tokens."""

    per_million_input: float
    per_million_output: float
    currency: str = "USD"

    def blended(self, tokens: Tokens) -> float:
        """The price per million of this mix of input and output tokens (the input price when
        there are none, so a break-even over no traffic still has a figure)."""
        if tokens.total == 0:
            return self.per_million_input
        return token_cost(tokens, self) * MILLION / tokens.total


def token_cost(tokens: Tokens, price: TokenPrice) -> float:
    """What `tokens` cost at `price`."""
    return (
        tokens.prompt * price.per_million_input
        + tokens.completion * price.per_million_output
    ) / MILLION


def cost_per_million(cost: float, tokens: Tokens) -> float | None:
    """`cost` spread over the tokens it served, per million; None when no token was served
    (capacity that served nothing has no cost per token, only a cost)."""
    if tokens.total == 0:
        return None
    return cost * MILLION / tokens.total
