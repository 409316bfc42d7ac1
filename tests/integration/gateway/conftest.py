"""Gateway integration fixtures (the harness itself lives in gateway_harness.py); `api` serves
the control-plane API over the fleet's store, for tests that write as a team or the platform."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import (
    Fleet,
    fleet,  # noqa: F401
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server_harness import RunningApi, run_api


@pytest.fixture
def api(fleet: Fleet) -> Iterator[RunningApi]:  # noqa: F811
    yield from run_api(fleet.store)
