"""The manager hands a BatchController every ready key at once, and retries a failed batch."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from test_control_manager import FAST, cache, eventually, running

from laneway.api.meta import ObjectKey
from laneway.control.base import BatchController, KeyMapper, Result
from laneway.control.manager import Manager
from laneway.store.memory import MemoryStore


class BatchRecorder:
    name = "batches"
    kind = "ModelCache"
    batch_limit = 100

    def __init__(self, *, fail_first: bool = False) -> None:
        self.batches: list[list[ObjectKey]] = []
        self.watches: dict[str, KeyMapper] = {}
        self._fail = fail_first

    async def reconcile(self, key: ObjectKey) -> Result:
        raise AssertionError("a batch controller is handed batches, never single keys")

    async def reconcile_batch(self, keys: Sequence[ObjectKey]) -> Mapping[ObjectKey, Result]:
        self.batches.append(list(keys))
        if self._fail:
            self._fail = False
            raise RuntimeError("boom")
        return {}

    def seen(self) -> set[str]:
        return {k.name for b in self.batches for k in b}


def test_every_listed_key_arrives_in_one_batch() -> None:
    store = MemoryStore()
    for i in range(30):
        store.create(cache(f"c{i}"))
    rec = BatchRecorder()
    assert isinstance(rec, BatchController)
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: len(rec.seen()) == 30)

    asyncio.run(running(mgr, body))
    assert len(rec.batches[0]) == 30, "the initial list queues every key before the worker runs"


def test_a_failed_batch_is_retried_key_by_key_with_backoff() -> None:
    store = MemoryStore()
    store.create(cache("a"))
    store.create(cache("b"))
    rec = BatchRecorder(fail_first=True)
    mgr = Manager(store, [rec], identity="m1", options=FAST)

    async def body() -> None:
        await eventually(lambda: len(rec.batches) >= 2 and {"a", "b"} <= {k.name for b in rec.batches[1:] for k in b})

    asyncio.run(running(mgr, body))

