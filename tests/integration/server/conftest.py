"""Fixtures of the API server tests; the server itself runs from `server_harness`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from server_harness import RunningApi, run_api

from laneway.store.memory import MemoryStore


@pytest.fixture
def api() -> Iterator[RunningApi]:
    yield from run_api(MemoryStore())


@pytest.fixture
def admin(api: RunningApi) -> Iterator[httpx.Client]:
    with api.client(api.admin_token) as client:
        yield client
