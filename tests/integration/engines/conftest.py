"""Fixtures of the engines' integration tests; the helpers live in `engines_helpers`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engines_helpers import EngineProcess, engine_process  # type: ignore[import-not-found]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """A simulator with quick timing and a small queue, shared by a module's client tests."""
    with engine_process(["sim", "--served-model-name", "sim-model", "--max-num-seqs", "4",
                         "--ttft", "0.01", "--itl", "0.002", "--max-tokens", "12"],
                        tmp_path_factory.mktemp("sim")) as p:
        yield p
