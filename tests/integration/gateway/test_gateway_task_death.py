"""A background task of the gateway that dies of a bug is logged when it dies, not swallowed
(issue 12's item, done with issue 11's gateway work)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from laneway.api.kinds.serving import ModelService
from laneway.gateway.source import TableSource
from laneway.gateway.table import RoutingTable
from laneway.store.memory import MemoryStore


def test_a_rebuild_task_that_dies_is_logged_with_its_error(caplog: pytest.LogCaptureFixture) -> None:
    applied: list[RoutingTable] = []

    def apply(table: RoutingTable) -> None:
        applied.append(table)
        if len(applied) > 1:
            raise RuntimeError("a bug while swapping the table")

    async def main() -> None:
        store = MemoryStore()
        source = TableSource(store, apply, debounce=0.01)
        await source.start()
        try:
            store.create(ModelService.model_validate({"metadata": {"name": "s", "namespace": "ml"}, "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}}))
            for _ in range(500):  # bounded: 10 s
                if any("died" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
        finally:
            await source.stop()
            store.close()

    with caplog.at_level(logging.ERROR, logger="laneway.gateway.tasks"):
        asyncio.run(main())
    deaths = [r for r in caplog.records if "died" in r.getMessage()]
    assert len(deaths) == 1, [r.getMessage() for r in caplog.records]
    assert "gateway-rebuild" in deaths[0].getMessage()
    assert deaths[0].exc_info is not None and "a bug while swapping the table" in str(deaths[0].exc_info[1])
