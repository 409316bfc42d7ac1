"""The deployment controller's copy of what plans read: clusters, classes and replicas, kept
from the events the manager already dispatches (an informer's cache, as in client-go).

Why: a batched pass must not list a thousand clusters and thousands of replicas from the store
each time one replica turns Ready. The copy may lag the store by the events not yet dispatched;
that is safe for placement because the only writer that takes capacity (creating replicas) is
the deployment controller itself, which records its own writes here at once. A lagging
deletion only makes capacity look taken a moment longer; a lagging cluster or status change
queues the deployments concerned when its event arrives.

What it does not trust itself with: events missed while this process did not lead (a deletion
then never arrives). The copy is therefore read again from the store when a pass finds it
older than `max_age` seconds; an idle control plane reads nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.meta import ObjectKey, Resource
from laneway.store.base import Store

DEFAULT_MAX_AGE = 300.0
"""As often as the manager's resync (which replays what the watch missed through the same
events): a full read is a second of CPU on a fleet of a thousand clusters, so not more often
than that, and only when a pass runs."""

R = TypeVar("R", bound=Resource)


def _version(obj: Resource) -> int:
    text = obj.metadata.resource_version or ""
    return int(text) if text.isdigit() else 0


def _gone(obj: Resource) -> bool:
    """Deleted (the manager marks deleted objects), not merely being deleted."""
    return bool(obj.metadata.deletion_timestamp) and not obj.metadata.finalizers


class _Table(Generic[R]):
    def __init__(self, kind: type[R]) -> None:
        self.kind = kind
        self.items: dict[ObjectKey, R] = {}

    def observe(self, obj: Resource) -> None:
        if not isinstance(obj, self.kind):
            return
        current = self.items.get(obj.key)
        if current is not None and _version(current) > _version(obj):
            return  # an older event than what this copy already holds
        if _gone(obj):
            self.items.pop(obj.key, None)
        else:
            self.items[obj.key] = obj

    def fill(self, store: Store) -> None:
        self.items = {o.key: o for o in store.list(self.kind).items}

    def values(self) -> list[R]:
        return list(self.items.values())


class FleetCache:
    def __init__(self, store: Store, *, max_age: float = DEFAULT_MAX_AGE, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._max_age = max_age
        self._clock = clock
        self._read_at: float | None = None
        self.clusters: _Table[InferenceCluster] = _Table(InferenceCluster)
        self.classes: _Table[InferenceClass] = _Table(InferenceClass)
        self.replicas: _Table[ModelReplica] = _Table(ModelReplica)

    def observe(self, obj: Resource) -> None:
        """An object the manager dispatched (or this controller wrote)."""
        for table in (self.clusters, self.classes, self.replicas):
            table.observe(obj)

    def deleting(self, replica: ModelReplica, when: str) -> None:
        """This controller asked the store to delete `replica`: it now stops, holding capacity."""
        meta = replica.metadata.model_copy(update={"deletion_timestamp": when})
        self.replicas.observe(replica.model_copy(update={"metadata": meta}))

    def fresh(self) -> FleetCache:
        """Read everything from the store again if the copy is older than `max_age`."""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._max_age:
            for table in (self.clusters, self.classes, self.replicas):
                table.fill(self._store)
            self._read_at = now
        return self
