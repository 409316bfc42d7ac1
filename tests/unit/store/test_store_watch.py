"""watch(): follows the revision stream from asyncio, in order, and raises Gone through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from store_objects import endpoint, gateway

from laneway.store.base import Gone, Store, WatchEvent
from laneway.store.watch import watch


async def _take(stream: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    out: list[WatchEvent] = []
    async for event in stream:
        out.append(event)
        if len(out) == n:
            break
    return out


def test_watch_replays_then_follows_new_writes(store: Store) -> None:
    async def scenario() -> list[WatchEvent]:
        store.create(endpoint("before"))
        stream = watch(store, kinds=None, since=0, wait_timeout=0.05)
        task = asyncio.create_task(_take(stream, 4))
        await asyncio.sleep(0)
        # Writes from a worker thread while the loop keeps running.
        await asyncio.to_thread(store.create, endpoint("after"))
        await asyncio.to_thread(store.create, gateway("front"))
        await asyncio.to_thread(store.delete, "ModelEndpoint", endpoint("before").key)
        events = await asyncio.wait_for(task, timeout=30)
        await stream.aclose()  # type: ignore[attr-defined]
        return events

    events = asyncio.run(scenario())
    assert [(e.type, e.object.name) for e in events] == [
        ("ADDED", "before"),
        ("ADDED", "after"),
        ("ADDED", "front"),
        ("DELETED", "before"),
    ]
    assert [e.revision for e in events] == [1, 2, 3, 4]


def test_watch_filters_kinds_and_keeps_moving(small_store: Store) -> None:
    """A watcher of a quiet kind advances with the store, so compaction does not strand it."""

    async def scenario() -> list[WatchEvent]:
        stream = watch(small_store, kinds=frozenset({"InferenceGateway"}), since=0, wait_timeout=0.05, batch=3)
        task = asyncio.create_task(_take(stream, 1))
        for i in range(40):  # four times the retention, none of the watched kind
            await asyncio.to_thread(small_store.create, endpoint(f"e{i}"))
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await asyncio.to_thread(small_store.create, gateway("front"))
        return await asyncio.wait_for(task, timeout=30)

    events = asyncio.run(scenario())
    assert [(e.object.kind, e.object.name) for e in events] == [("InferenceGateway", "front")]


def test_watch_from_a_compacted_revision_raises_gone(small_store: Store) -> None:
    for i in range(30):
        small_store.create(endpoint(f"e{i}"))

    async def scenario() -> None:
        async for _ in watch(small_store, kinds=None, since=0):
            pass

    with pytest.raises(Gone):
        asyncio.run(scenario())


def test_watch_refuses_a_negative_revision(store: Store) -> None:
    async def scenario() -> None:
        async for _ in watch(store, kinds=None, since=-1):
            pass

    with pytest.raises(ValueError, match=">= 0"):
        asyncio.run(scenario())
