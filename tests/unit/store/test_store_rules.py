"""The pure rules under both backends: leases and event compaction."""

from __future__ import annotations

import pytest

from laneway.store.base import Lease
from laneway.store.bookkeeping import compaction_floor
from laneway.store.leasing import next_lease, released


def test_first_acquire_takes_the_lease() -> None:
    assert next_lease(None, name="m", holder="a", ttl_seconds=5, now=100) == Lease("m", "a", 105, 0)


def test_renew_keeps_transitions_and_takeover_counts_one() -> None:
    held = Lease("m", "a", 105, 2)
    assert next_lease(held, name="m", holder="a", ttl_seconds=5, now=104) == Lease("m", "a", 109, 2)
    assert next_lease(held, name="m", holder="b", ttl_seconds=5, now=104) is None
    assert next_lease(held, name="m", holder="b", ttl_seconds=5, now=105) == Lease("m", "b", 110, 3)


def test_release_only_by_the_holder() -> None:
    held = Lease("m", "a", 105, 1)
    assert released(held, holder="b") is None
    assert released(None, holder="a") is None
    assert released(held, holder="a") == Lease("m", "", 0.0, 1)


@pytest.mark.parametrize("ttl", [0, -1, float("nan")])
def test_bad_ttl(ttl: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        next_lease(None, name="m", holder="a", ttl_seconds=ttl, now=0)


def test_empty_holder_is_refused() -> None:
    with pytest.raises(ValueError, match="identity"):
        next_lease(None, name="m", holder="", ttl_seconds=1, now=0)


def test_compaction_runs_in_batches() -> None:
    assert compaction_floor(100, 0, 1000) is None
    assert compaction_floor(1099, 0, 1000) is None  # 99 past retention: under a batch of 100
    assert compaction_floor(1100, 0, 1000) == 100
    assert compaction_floor(1150, 100, 1000) is None
    assert compaction_floor(12, 0, 10) == 2
