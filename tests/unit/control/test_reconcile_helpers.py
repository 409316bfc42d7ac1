"""The shared reconcile prologue and the two finalizer verbs, against a real (memory) store."""

from __future__ import annotations

from laneway.api.kinds import ModelEndpoint
from laneway.api.meta import ObjectKey
from laneway.control.reconcile import (
    allow_deletion,
    block_deletion,
    is_deleting,
    live_object,
)
from laneway.store.memory import MemoryStore

KEY = ObjectKey("ml", "ep")
FINALIZER = "laneway.dev/test"


def _endpoint() -> ModelEndpoint:
    return ModelEndpoint.model_validate({"metadata": {"name": "ep", "namespace": "ml"}, "spec": {"url": "http://127.0.0.1:1"}})


def test_live_object_is_none_when_missing_or_deleting() -> None:
    store = MemoryStore()
    assert live_object(store, ModelEndpoint, KEY) is None
    created = store.create(_endpoint())
    assert live_object(store, ModelEndpoint, KEY) == created
    block_deletion(store, created, FINALIZER)
    store.delete(ModelEndpoint, KEY)
    deleting = store.get(ModelEndpoint, KEY)
    assert is_deleting(deleting)
    assert live_object(store, ModelEndpoint, KEY) is None


def test_block_then_allow_deletion_writes_once_each() -> None:
    store = MemoryStore()
    created = store.create(_endpoint())
    held = block_deletion(store, created, FINALIZER)
    assert held.metadata.finalizers == [FINALIZER]
    revision = store.revision()
    assert block_deletion(store, held, FINALIZER) is held  # already held: no write
    assert store.revision() == revision
    assert created.metadata.finalizers == []  # the caller's object is not mutated

    store.delete(ModelEndpoint, KEY)
    deleting = store.get(ModelEndpoint, KEY)
    allow_deletion(store, deleting, FINALIZER)
    assert store.find(ModelEndpoint, KEY) is None  # the last finalizer gone: the object goes


def test_allow_deletion_without_the_finalizer_writes_nothing() -> None:
    store = MemoryStore()
    created = store.create(_endpoint())
    revision = store.revision()
    assert allow_deletion(store, created, FINALIZER) is created
    assert store.revision() == revision


def test_allow_deletion_keeps_other_finalizers() -> None:
    store = MemoryStore()
    created = store.create(_endpoint())
    held = block_deletion(store, block_deletion(store, created, "laneway.dev/other"), FINALIZER)
    released = allow_deletion(store, held, FINALIZER)
    assert released.metadata.finalizers == ["laneway.dev/other"]
