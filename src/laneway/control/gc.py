"""The garbage collector: deletes objects whose owners are all gone.

An object with ownerReferences lives while at least one owner (by uid) exists. When the
last one goes, the collector deletes it; its own deletion is an event like any other, so its
dependents follow in turn (background cascading: owner first, then children, then
grandchildren, as Kubernetes' default propagation does).

What it promises:
- a dependent is deleted only when *every* owner uid it lists is absent from the store; an
  owner that is merely marked for deletion (finalizers pending) still exists, so its
  dependents wait until the owner is really gone;
- deletion goes through `Store.delete`, so a dependent's own finalizers are respected (the
  delete only marks it) and an already-marked dependent is left alone;
- the delete carries the resourceVersion it checked, so a dependent that gained a new owner
  meanwhile is not deleted (the store answers Conflict and the key is retried).

What it does not do: foreground deletion (`blockOwnerDeletion` is recorded, not enforced)
and orphaning; neither is used by laneway's composers.

How it is keyed: the collector's keys are uids, `ObjectKey("", uid)`, meaning "if this uid
is gone, collect its orphans". Every event of every kind queues the object's own uid (its
deletion may orphan others) and its owners' uids (it may have been created pointing at an
owner that is already gone). Each term of the manager starts by listing every stored object
through the same mapping, which is the collector's sweep: orphans whose owner vanished while
no manager was watching are found there (and the periodic resync lists everything again if
it finds a deletion the watch missed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from laneway.api.kinds import ALL_KINDS
from laneway.api.meta import ObjectKey, Resource
from laneway.control.base import NO_PRIMARY_KIND, KeyMapper, Result
from laneway.store.base import NotFound, Store

log = logging.getLogger(__name__)

GC_NAME = "garbage-collector"


def uid_key(uid: str) -> ObjectKey:
    """The collector's key for a uid (namespace left empty: uids are global)."""
    return ObjectKey("", uid)


def uids_to_check(obj: Resource) -> Iterable[ObjectKey]:
    """The uids whose disappearance may orphan something, for one changed object (pure)."""
    keys: list[ObjectKey] = []
    if obj.metadata.uid:
        keys.append(uid_key(obj.metadata.uid))
    keys.extend(uid_key(ref.uid) for ref in obj.metadata.owner_references)
    return keys


def is_orphan(obj: Resource, existing_uids: frozenset[str]) -> bool:
    """Whether `obj` has owners and none of them is among `existing_uids` (pure)."""
    refs = obj.metadata.owner_references
    return bool(refs) and not any(ref.uid in existing_uids for ref in refs)


class GarbageCollector:
    """Collects orphans of a vanished owner uid; see the module docstring."""

    name = GC_NAME
    kind = NO_PRIMARY_KIND
    concurrency = 2

    def __init__(self, store: Store) -> None:
        self._store = store
        self.watches: Mapping[str, KeyMapper] = {k.KIND: uids_to_check for k in ALL_KINDS}

    async def reconcile(self, key: ObjectKey) -> Result:
        owner_uid = key.name
        if self._store.exists_uid(owner_uid):
            return Result()
        for dependent in self._store.dependents(owner_uid):
            if dependent.metadata.deletion_timestamp:
                continue  # already being deleted; its finalizers decide when it goes
            owner_uids = frozenset(r.uid for r in dependent.metadata.owner_references if self._store.exists_uid(r.uid))
            if not is_orphan(dependent, owner_uids):
                continue
            try:
                self._store.delete(type(dependent), dependent.key, resource_version=dependent.metadata.resource_version)
            except NotFound:
                continue  # someone else deleted it first: the goal is reached
            log.info(
                "garbage collector deleted %s %s: its owners are gone (%s)",
                dependent.kind,
                dependent.key,
                ", ".join(f"{r.kind}/{r.name}" for r in dependent.metadata.owner_references),
            )
        return Result()
