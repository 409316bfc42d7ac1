"""The garbage collector's decisions, reconciling directly against a MemoryStore."""

from __future__ import annotations

import asyncio

from laneway.api.kinds import ModelCache
from laneway.api.meta import ObjectKey, OwnerReference, Resource
from laneway.control.base import ControlContext
from laneway.control.gc import GarbageCollector, is_orphan, uid_key, uids_to_check
from laneway.control.registry import build_controllers
from laneway.store.base import NotFound
from laneway.store.memory import MemoryStore


def cache(name: str, *owners: Resource, finalizers: tuple[str, ...] = ()) -> ModelCache:
    return ModelCache.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "ml",
                "finalizers": list(finalizers),
                "ownerReferences": [o.owner_reference().wire() for o in owners],
            },
            "spec": {"source": "Local", "local": {"path": "/models/x"}},
        }
    )


def collect(gc: GarbageCollector, uid: str) -> None:
    asyncio.run(gc.reconcile(uid_key(uid)))


def exists(store: MemoryStore, name: str) -> bool:
    try:
        store.get("ModelCache", ObjectKey("ml", name))
    except NotFound:
        return False
    return True


def test_orphans_of_a_deleted_owner_are_deleted() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner"))
    store.create(cache("child", owner))
    store.create(cache("unrelated"))
    store.delete("ModelCache", owner.key)
    collect(GarbageCollector(store), owner.metadata.uid or "")
    assert not exists(store, "child")
    assert exists(store, "unrelated")


def test_a_dependent_with_one_living_owner_stays() -> None:
    store = MemoryStore()
    a = store.create(cache("a"))
    b = store.create(cache("b"))
    store.create(cache("shared", a, b))
    store.delete("ModelCache", a.key)
    collect(GarbageCollector(store), a.metadata.uid or "")
    assert exists(store, "shared")


def test_nothing_is_collected_while_the_owner_exists() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner"))
    store.create(cache("child", owner))
    collect(GarbageCollector(store), owner.metadata.uid or "")
    assert exists(store, "child")


def test_an_owner_pending_on_finalizers_still_protects_its_children() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner", finalizers=("laneway.dev/drain",)))
    store.create(cache("child", owner))
    store.delete("ModelCache", owner.key)  # marks only
    collect(GarbageCollector(store), owner.metadata.uid or "")
    assert exists(store, "child")


def test_a_dependent_with_finalizers_is_marked_not_removed() -> None:
    store = MemoryStore()
    owner = store.create(cache("owner"))
    store.create(cache("child", owner, finalizers=("laneway.dev/teardown",)))
    store.delete("ModelCache", owner.key)
    gc = GarbageCollector(store)
    collect(gc, owner.metadata.uid or "")
    child = store.get("ModelCache", ObjectKey("ml", "child"))
    assert child.metadata.deletion_timestamp
    revision = store.revision()
    collect(gc, owner.metadata.uid or "")
    assert store.revision() == revision, "an already-marked dependent is left to its finalizers"


def test_a_child_created_pointing_at_a_missing_owner_is_found_via_its_owner_uid() -> None:
    store = MemoryStore()
    ghost = cache("ghost").model_copy(deep=True)
    ghost.metadata.uid = "0000-gone"
    child = store.create(cache("child", ghost))
    keys = list(uids_to_check(child))
    assert uid_key("0000-gone") in keys and uid_key(child.metadata.uid or "") in keys
    collect(GarbageCollector(store), "0000-gone")
    assert not exists(store, "child")


def test_is_orphan_is_pure() -> None:
    child = cache("c").model_copy(deep=True)
    assert not is_orphan(child, frozenset()), "an object without owners is never an orphan"
    child.metadata.owner_references = [OwnerReference(kind="ModelCache", name="o", uid="u1")]
    assert is_orphan(child, frozenset())
    assert not is_orphan(child, frozenset({"u1"}))


def test_the_registry_ships_the_garbage_collector_watching_every_kind() -> None:
    controllers = build_controllers(ControlContext(store=MemoryStore()))
    [gc] = [c for c in controllers if isinstance(c, GarbageCollector)]
    assert len({c.name for c in controllers}) == len(controllers), "controller names are unique"
    assert "ModelReplica" in gc.watches and "Secret" in gc.watches


def test_every_registered_controller_is_accepted_by_the_manager() -> None:
    from laneway.control.manager import Manager

    store = MemoryStore()
    Manager(store, build_controllers(ControlContext(store=store)), identity="check")  # raises on a bad set-up
