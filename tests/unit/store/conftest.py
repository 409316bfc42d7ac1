"""The contract suite runs every test against each backend: MemoryStore and SqliteStore."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from laneway.store.base import Store
from laneway.store.memory import MemoryStore
from laneway.store.sqlite import SqliteStore


class FakeClock:
    """A wall clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _make(backend: str, tmp_path: Path, clock: FakeClock, retention: int) -> Store:
    if backend == "memory":
        return MemoryStore(clock=clock, event_retention=retention)
    return SqliteStore(tmp_path / "laneway.db", clock=clock, event_retention=retention, poll_interval=0.02)


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = _make(backend, tmp_path, clock, retention=10_000)
    yield s
    s.close()


@pytest.fixture
def small_store(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """A store that keeps only 10 events, to reach compaction quickly."""
    s = _make(backend, tmp_path, clock, retention=10)
    yield s
    s.close()
