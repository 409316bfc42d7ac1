"""The cost arithmetic as pure functions of plain data: capacity over windows, token prices,
cost per million and the break-even point."""

from __future__ import annotations

import pytest

from laneway.economics import (
    Holding,
    MixedCurrencies,
    PoolPrice,
    TokenPrice,
    Tokens,
    Window,
    break_even_tokens_per_hour,
    break_even_utilisation,
    capacity_cost,
    cost_per_million,
    token_cost,
)

H = 3600.0
NODE_POOL = PoolPrice(
    per_node_hour=28.0, currency="USD", accounting="Node", devices_per_node=8
)
DEVICE_POOL = PoolPrice(
    per_node_hour=28.0, currency="USD", accounting="Device", devices_per_node=8
)
PRICED_DEVICE_POOL = PoolPrice(
    per_node_hour=28.0,
    per_device_hour=4.0,
    currency="USD",
    accounting="Device",
    devices_per_node=8,
)


def test_node_accounted_pool_charges_whole_nodes_whatever_the_devices_claimed() -> None:
    h = Holding(
        replica="r0", pool="c/p", nodes=2, devices=1, start=0.0, price=NODE_POOL
    )
    assert capacity_cost([h], Window(0.0, 10 * H)).total == pytest.approx(2 * 28.0 * 10)


def test_device_accounted_pool_charges_claimed_devices_at_node_price_split() -> None:
    h = Holding(
        replica="r0", pool="c/p", nodes=1, devices=2, start=0.0, price=DEVICE_POOL
    )
    assert capacity_cost([h], Window(0.0, 10 * H)).total == pytest.approx(
        2 * (28.0 / 8) * 10
    )


def test_device_accounted_pool_uses_its_declared_device_price() -> None:
    h = Holding(
        replica="r0",
        pool="c/p",
        nodes=1,
        devices=3,
        start=0.0,
        price=PRICED_DEVICE_POOL,
    )
    assert capacity_cost([h], Window(0.0, 2 * H)).total == pytest.approx(3 * 4.0 * 2)


def test_partial_window_counts_only_the_overlap() -> None:
    # Created 2 h before the window, deleted 3 h into it: 3 h charged.
    early = Holding(
        replica="r0",
        pool="c/p",
        nodes=1,
        devices=1,
        start=-2 * H,
        end=3 * H,
        price=NODE_POOL,
    )
    # Created 9 h into a 10 h window and still running: 1 h charged.
    late = Holding(
        replica="r1", pool="c/p", nodes=1, devices=1, start=9 * H, price=NODE_POOL
    )
    # Gone before the window opened: nothing.
    gone = Holding(
        replica="r2",
        pool="c/p",
        nodes=1,
        devices=1,
        start=-5 * H,
        end=-1 * H,
        price=NODE_POOL,
    )
    cost = capacity_cost([early, late, gone], Window(0.0, 10 * H))
    assert cost.by_replica == {
        "r0": pytest.approx(3 * 28.0),
        "r1": pytest.approx(28.0),
        "r2": 0.0,
    }
    assert cost.total == pytest.approx(4 * 28.0)
    assert cost.replica_hours == pytest.approx(4.0)


def test_replica_that_moved_is_charged_on_each_pool_for_its_own_time() -> None:
    # Moving is delete plus create: 4 h on a node pool, then 6 h on a device pool.
    before = Holding(
        replica="chat-0",
        pool="a/h100",
        nodes=1,
        devices=1,
        start=0.0,
        end=4 * H,
        price=NODE_POOL,
    )
    after = Holding(
        replica="chat-0",
        pool="b/h100",
        nodes=1,
        devices=1,
        start=4 * H,
        price=DEVICE_POOL,
    )
    cost = capacity_cost([before, after], Window(0.0, 10 * H))
    assert cost.total == pytest.approx(4 * 28.0 + 6 * 28.0 / 8)
    assert cost.by_replica == {"chat-0": pytest.approx(4 * 28.0 + 6 * 3.5)}


def test_currencies_are_never_added() -> None:
    eur = PoolPrice(per_node_hour=1.0, currency="EUR")
    holdings = [
        Holding(
            replica="a", pool="c/p", nodes=1, devices=0, start=0.0, price=NODE_POOL
        ),
        Holding(replica="b", pool="c/q", nodes=1, devices=0, start=0.0, price=eur),
    ]
    with pytest.raises(MixedCurrencies, match="EUR, USD"):
        capacity_cost(holdings, Window(0.0, H))


def test_empty_fleet_costs_nothing_in_the_asked_currency() -> None:
    cost = capacity_cost([], Window(0.0, H), currency="EUR")
    assert (cost.total, cost.currency, cost.replica_hours) == (0.0, "EUR", 0.0)


def test_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after it starts"):
        Window(5.0, 5.0)


def test_token_cost_prices_input_and_output_separately() -> None:
    price = TokenPrice(per_million_input=3.0, per_million_output=15.0)
    tokens = Tokens(prompt=2_000_000, completion=500_000)
    assert token_cost(tokens, price) == pytest.approx(6.0 + 7.5)
    assert price.blended(tokens) == pytest.approx(13.5 / 2.5)
    assert price.blended(Tokens()) == 3.0


def test_cost_per_million_of_metered_tokens() -> None:
    assert cost_per_million(
        12.0, Tokens(prompt=1_000_000, completion=3_000_000)
    ) == pytest.approx(3.0)
    assert cost_per_million(12.0, Tokens()) is None


def test_break_even_rate_and_utilisation() -> None:
    # $28/h against $5 per million tokens: 5.6 million tokens an hour.
    assert break_even_tokens_per_hour(
        cost_per_hour=28.0, price_per_million=5.0
    ) == pytest.approx(5_600_000)
    # A replica serving 2 000 tokens/s (7.2 M/h) must run at 7/9 of it to break even.
    u = break_even_utilisation(
        cost_per_hour=28.0, price_per_million=5.0, capacity_tokens_per_hour=7_200_000
    )
    assert u == pytest.approx(5.6 / 7.2)
    # At $1 per million it never breaks even: above 1.
    never = break_even_utilisation(
        cost_per_hour=28.0, price_per_million=1.0, capacity_tokens_per_hour=7_200_000
    )
    assert never is not None and never > 1
    assert break_even_tokens_per_hour(cost_per_hour=28.0, price_per_million=0.0) is None
    assert (
        break_even_utilisation(
            cost_per_hour=28.0, price_per_million=5.0, capacity_tokens_per_hour=0.0
        )
        is None
    )
