"""The prologue and the finalizer verbs every controller shares.

A reconcile starts the same way in every controller: read the object of its kind by key; when
it is gone there is nothing to do; when it is being deleted (deletionTimestamp set) most
controllers do nothing either, and those that hold a finalizer clean up and let it go.
`live_object` is that prologue as one typed read; `is_deleting` the one test.

Finalizers have two verbs, as in kopf (`block_deletion` / `allow_deletion`): a controller that
must clean up outside the store before its object goes adds its finalizer while the object
lives, and removes it once the cleanup is done. Both write only when the list changes, so
reconciling twice writes once, and both return the object as stored afterwards.
"""

from __future__ import annotations

from typing import TypeVar

from laneway.api.meta import ObjectKey, Resource
from laneway.store.base import Store

R = TypeVar("R", bound=Resource)


def is_deleting(obj: Resource) -> bool:
    """Whether the object is being deleted (deletionTimestamp set, finalizers still pending)."""
    return bool(obj.metadata.deletion_timestamp)


def live_object(store: Store, kind: type[R], key: ObjectKey) -> R | None:
    """The object to reconcile, or None when it is gone or being deleted: the prologue of a
    controller that holds no finalizer on `kind`."""
    obj = store.find(kind, key)
    if obj is None or is_deleting(obj):
        return None
    return obj


def block_deletion(store: Store, obj: R, finalizer: str) -> R:
    """Hold `obj`'s deletion until `allow_deletion` with the same finalizer; returns the object
    as stored (unchanged `obj` when the finalizer is already there)."""
    if finalizer in obj.metadata.finalizers:
        return obj
    held = obj.model_copy(deep=True)
    held.metadata.finalizers = [*obj.metadata.finalizers, finalizer]
    return store.update(held)


def allow_deletion(store: Store, obj: R, finalizer: str) -> R:
    """Let `obj` go as far as `finalizer` is concerned: the store deletes it once its last
    finalizer is removed. Returns the object as last stored (unchanged `obj` when the
    finalizer was not there)."""
    if finalizer not in obj.metadata.finalizers:
        return obj
    released = obj.model_copy(deep=True)
    released.metadata.finalizers = [f for f in obj.metadata.finalizers if f != finalizer]
    return store.update(released)
