"""Metadata bookkeeping every backend applies the same way: the pure half of each write.

Each function takes the stored document (a JSON-ready dict in the wire form, or None) and the
incoming typed object, and returns the `Change` to record: the document to store (or None
when the object goes), the event to append, and what to hand back to the caller. No function
here touches storage, a clock or a random source; the backends pass `now`, `uid` and the next
revision in. Keeping this in one module is what stops SqliteStore and MemoryStore drifting.

Rules (Kubernetes' own, where it has one):
- `generation` is 1 on create and moves only when the spec changes (for a Secret, which has no
  spec, when `data` or `type` changes);
- `uid`, `creationTimestamp`, `deletionTimestamp` and `generation` are the store's to set: the
  values a caller sends are ignored;
- a write whose result equals what is stored is a no-op: no revision, no event. Controllers
  that reconcile twice therefore do not feed their own watch;
- no new finalizer may be added once `deletionTimestamp` is set; the object goes when an update
  leaves its finalizer list empty.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from laneway.api.meta import ObjectKey, Resource
from laneway.api.registry import by_kind
from laneway.api.selectors import Requirement, matches_all
from laneway.store.base import (
    Conflict,
    EventType,
    Gone,
    Invalid,
)

Document = dict[str, Any]

# Metadata fields the caller owns on update; everything else in metadata is the store's.
_CALLER_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")
# Metadata fields the store owns and carries over from the stored document.
_STORE_METADATA = ("uid", "generation", "creationTimestamp", "deletionTimestamp")


@dataclass(frozen=True)
class Change:
    """One planned write. `stored` is the new stored document, None when the object is removed."""

    event: EventType
    stored: Document | None
    returned: Document


def storage_key(kind: str, obj_namespace: str | None, name: str) -> ObjectKey:
    """The key an object is stored under: cluster-scoped kinds live in namespace ""."""
    info = by_kind(kind)
    if not info.namespaced:
        return ObjectKey("", name)
    if not obj_namespace:
        raise Invalid(
            f"{kind} {name!r} has no metadata.namespace: {kind} is namespaced, so set one "
            "(e.g. 'namespace: default' in the manifest, or -n on the command line)"
        )
    return ObjectKey(obj_namespace, name)


def key_of(obj: Resource) -> ObjectKey:
    return storage_key(obj.kind, obj.metadata.namespace, obj.metadata.name)


def describe(kind: str, key: ObjectKey) -> str:
    return f"{kind} {str(key)!r}"


def spec_of(doc: Document) -> Any:
    """The part of a document whose change moves `generation`."""
    if doc.get("kind") == "Secret":
        return {"type": doc.get("type"), "data": doc.get("data", {})}
    return doc.get("spec")


def resource_version(doc: Document) -> str:
    return str(doc["metadata"]["resourceVersion"])


def check_preconditions(
    kind: str, key: ObjectKey, stored: Document, *, resource_version_: str | None, uid: str | None
) -> None:
    """Optimistic concurrency: a write carrying a resourceVersion (or uid) must match the stored one."""
    current = resource_version(stored)
    if resource_version_ is not None and str(resource_version_) != current:
        raise Conflict(
            f"{describe(kind, key)} was modified since you read it (you sent resourceVersion "
            f"{resource_version_}, it is now {current}): get it again and reapply your change"
        )
    stored_uid = stored["metadata"].get("uid")
    if uid is not None and uid != stored_uid:
        raise Conflict(
            f"{describe(kind, key)} is a different object now (uid {stored_uid}, you sent {uid}): "
            "it was deleted and created again; get it again"
        )


def _wire(obj: Resource, key: ObjectKey) -> Document:
    doc = obj.wire()
    meta = doc["metadata"]
    if key.namespace:
        meta["namespace"] = key.namespace
    else:
        meta.pop("namespace", None)
    return doc


def _stamp(doc: Document, revision: int) -> Document:
    doc["metadata"]["resourceVersion"] = str(revision)
    return doc


def _same_apart_from_version(a: Document, b: Document) -> bool:
    a_meta = {k: v for k, v in a["metadata"].items() if k != "resourceVersion"}
    b_meta = {k: v for k, v in b["metadata"].items() if k != "resourceVersion"}
    return a_meta == b_meta and {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    }


def plan_create(obj: Resource, key: ObjectKey, *, revision: int, uid: str, now: str) -> Change:
    """A new object: fresh uid, generation 1, creationTimestamp now, no deletionTimestamp."""
    doc = _wire(obj, key)
    meta = doc["metadata"]
    meta["uid"] = uid
    meta["generation"] = 1
    meta["creationTimestamp"] = now
    meta.pop("deletionTimestamp", None)
    _stamp(doc, revision)
    return Change(event="ADDED", stored=doc, returned=doc)


def plan_update(stored: Document, obj: Resource, key: ObjectKey, *, revision: int) -> Change | None:
    """Replace caller-owned metadata and the spec; keep status and store-owned metadata.
    Returns None when nothing would change (a no-op write)."""
    check_preconditions(obj.kind, key, stored, resource_version_=obj.metadata.resource_version, uid=obj.metadata.uid)
    incoming = _wire(obj, key)
    doc: Document = {k: v for k, v in incoming.items() if k not in ("metadata", "status")}
    if "status" in stored:
        doc["status"] = copy.deepcopy(stored["status"])
    old_meta = stored["metadata"]
    meta: Document = {"name": old_meta["name"]}
    if key.namespace:
        meta["namespace"] = key.namespace
    for field in _CALLER_METADATA:
        if field in incoming["metadata"]:
            meta[field] = incoming["metadata"][field]
    for field in _STORE_METADATA:
        if field in old_meta:
            meta[field] = old_meta[field]
    doc["metadata"] = meta
    deleting = "deletionTimestamp" in old_meta
    finalizers = meta.get("finalizers", [])
    if deleting:
        added = sorted(set(finalizers) - set(old_meta.get("finalizers", [])))
        if added:
            raise Invalid(
                f"{describe(obj.kind, key)} is being deleted: finalizers {added} cannot be added now; "
                "only removing finalizers is allowed"
            )
        if not finalizers:
            return Change(event="DELETED", stored=None, returned=_stamp(doc, revision))
    if spec_of(doc) != spec_of(stored):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    if _same_apart_from_version(doc, stored):
        return None
    return Change(event="MODIFIED", stored=_stamp(doc, revision), returned=doc)


def plan_update_status(stored: Document, obj: Resource, key: ObjectKey, *, revision: int) -> Change | None:
    """Replace the status only. Returns None when the status is unchanged."""
    if "status" not in type(obj).model_fields:
        raise Invalid(f"{obj.kind} has no status to update; update the object itself instead")
    check_preconditions(obj.kind, key, stored, resource_version_=obj.metadata.resource_version, uid=obj.metadata.uid)
    doc = copy.deepcopy(stored)
    new_status = obj.wire().get("status")
    if new_status is None:
        doc.pop("status", None)
    else:
        doc["status"] = new_status
    if doc == stored:
        return None
    return Change(event="MODIFIED", stored=_stamp(doc, revision), returned=doc)


def plan_delete(
    stored: Document, kind: str, key: ObjectKey, *, revision: int, now: str, resource_version_: str | None
) -> Change | None:
    """Remove now, or mark deletionTimestamp while finalizers remain. Returns None when the
    object is already marked (deleting twice changes nothing)."""
    check_preconditions(kind, key, stored, resource_version_=resource_version_, uid=None)
    doc = copy.deepcopy(stored)
    if doc["metadata"].get("finalizers"):
        if "deletionTimestamp" in doc["metadata"]:
            return None
        doc["metadata"]["deletionTimestamp"] = now
        return Change(event="MODIFIED", stored=_stamp(doc, revision), returned=doc)
    return Change(event="DELETED", stored=None, returned=_stamp(doc, revision))


def owner_uids(doc: Document) -> list[str]:
    return [ref["uid"] for ref in doc["metadata"].get("ownerReferences", []) if ref.get("uid")]


def labels_match(doc: Document, selector: list[Requirement] | tuple[Requirement, ...]) -> bool:
    return matches_all(list(selector), doc["metadata"].get("labels", {}))


def parse(kind: str, doc: Document) -> Resource:
    """A stored document back to its typed object."""
    return by_kind(kind).parse(doc)


def compaction_floor(revision: int, compacted: int, retention: int) -> int | None:
    """The revision up to which events may be dropped after writing `revision`, or None when
    not yet due. Compacts in batches (a tenth of the retention) so it runs rarely."""
    floor = revision - retention
    if floor - compacted >= max(1, retention // 10):
        return floor
    return None


def check_retained(revision: int, compacted: int) -> None:
    """Raise Gone when the events after `revision` were compacted away."""
    if revision < compacted:
        raise Gone(
            f"revision {revision} is too old: events up to {compacted} were compacted; "
            "list again and watch from the list's revision"
        )
