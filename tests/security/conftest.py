"""Fixtures of the security tests: the attacks of issue 11, each run as the team lane would.

Generic on purpose (several parts of laneway add tests here): an in-process API server over a
memory store (`api`, fast, for refusals the API makes itself), a real `laneway up` subprocess
on loopback with its data directory (`up`, for attacks whose side effects live behind the
API), and token helpers for both. The harnesses are the integration tests' own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TESTS = Path(__file__).resolve().parents[1]
for harness_dir in (TESTS / "integration" / "server", TESTS / "integration" / "cli"):
    if str(harness_dir) not in sys.path:
        sys.path.insert(0, str(harness_dir))

from cli_harness import Cli, Up
from security_harness import TEAM_NAMESPACE, run_up
from server_harness import RunningApi, run_api

from laneway.store.memory import MemoryStore


@pytest.fixture
def api() -> Iterator[RunningApi]:
    """The API server alone, over a fresh memory store."""
    yield from run_api(MemoryStore())


@pytest.fixture
def admin(api: RunningApi) -> Iterator[httpx.Client]:
    with api.client(api.admin_token) as client:
        yield client


@pytest.fixture
def team(api: RunningApi) -> Iterator[httpx.Client]:
    """A client holding a team token for `ml-team` only: the attacker of these tests."""
    with api.client(api.token("team", TEAM_NAMESPACE)) as client:
        yield client


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """A real `laneway up` (no local cluster unless a test module overrides this fixture)."""
    yield from run_up(tmp_path_factory.mktemp("up") / "data", local_cluster=False)


@pytest.fixture(scope="module")
def up_cli(up: Up) -> Cli:
    """The real `laneway` command against `up`, with its admin token unless told otherwise."""
    return Cli(up.data_dir)
