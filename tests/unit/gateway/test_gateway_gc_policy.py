"""The gateway's hold on the collector's young threshold: raised while held, restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from laneway.gateway.gc_policy import GcPolicy


@pytest.fixture
def threshold() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.set_threshold(*saved)


def test_hold_raises_and_release_restores(threshold: tuple[int, int, int]) -> None:
    policy = GcPolicy()
    held = policy.hold(50_000)
    assert held
    assert gc.get_threshold() == (50_000, 10, 10)
    policy.release(held)
    assert gc.get_threshold() == threshold


def test_holds_are_counted(threshold: tuple[int, int, int]) -> None:
    policy = GcPolicy()
    first, second = policy.hold(50_000), policy.hold(50_000)
    policy.release(first)
    assert gc.get_threshold()[0] == 50_000, "another gateway still serves"
    policy.release(second)
    assert gc.get_threshold() == threshold


def test_never_lowers_a_higher_setting(threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(100_000, 10, 10)
    policy = GcPolicy()
    held = policy.hold(50_000)
    assert gc.get_threshold()[0] == 100_000
    policy.release(held)
    assert gc.get_threshold()[0] == 100_000


def test_a_change_made_meanwhile_is_kept(threshold: tuple[int, int, int]) -> None:
    policy = GcPolicy()
    held = policy.hold(50_000)
    gc.set_threshold(2_000, 10, 10)  # someone else decided while the gateway served
    policy.release(held)
    assert gc.get_threshold() == (2_000, 10, 10)


def test_none_leaves_the_collector_alone(threshold: tuple[int, int, int]) -> None:
    policy = GcPolicy()
    held = policy.hold(None)
    assert not held
    assert gc.get_threshold() == threshold
    policy.release(held)
    assert gc.get_threshold() == threshold


def test_negative_threshold_is_refused(threshold: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        GcPolicy().hold(-1)
