"""Which store events a watcher sees, and as what: namespace, visibility and label filtering.

A watch with a label selector follows Kubernetes: an object that stops matching is reported
`DELETED` to that watcher, and one that starts matching is reported `ADDED`. The filter
remembers which objects the watcher has been shown; a watch resumed from a resourceVersion
starts with an empty memory, so an object it was shown before the resume and that stops
matching afterwards is simply no longer reported. Pure: events in, events out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from laneway.api.meta import ObjectKey, Resource
from laneway.api.selectors import Requirement, matches_all
from laneway.store.base import EventType


@dataclass(frozen=True)
class Shown:
    """One event as the watcher receives it."""

    type: EventType
    object: Resource


@dataclass
class WatchFilter:
    """Events of one kind narrowed to `namespace` ("" = all), what the token may read, and the selector."""

    namespace: str = ""
    selector: Sequence[Requirement] = ()
    readable: Callable[[str], bool] = lambda _namespace: True
    field_selector: Sequence[Requirement] = ()
    _shown: set[ObjectKey] = field(default_factory=set)
    _memory_complete: bool = False  # True once seeded from a list: "not shown" then means "not matching"

    def _in_scope(self, obj: Resource) -> bool:
        if self.namespace and obj.namespace != self.namespace:
            return False
        if obj.namespace and not self.readable(obj.namespace):
            return False
        return matches_all(list(self.field_selector), field_labels(obj))

    def admit(self, event_type: EventType, obj: Resource) -> Shown | None:
        """What the watcher sees of this event, or None when it sees nothing."""
        if not self._in_scope(obj):
            return None
        key = obj.key
        matching = matches_all(list(self.selector), obj.metadata.labels)
        was_shown = key in self._shown
        if event_type == "DELETED":
            self._shown.discard(key)
            return Shown("DELETED", obj) if matching or was_shown else None
        if matching:
            self._shown.add(key)
            if event_type == "MODIFIED" and not was_shown and self._memory_complete:
                return Shown("ADDED", obj)  # it started matching the selector
            return Shown(event_type, obj)
        if was_shown:
            self._shown.discard(key)
            return Shown("DELETED", obj)  # it stopped matching the selector
        return None

    def seed(self, objects: Sequence[Resource]) -> list[Shown]:
        """The synthetic ADDED events of a watch that starts from the current state."""
        self._memory_complete = True
        out = []
        for obj in objects:
            shown = self.admit("ADDED", obj)
            if shown is not None:
                out.append(shown)
        return out


def field_labels(obj: Resource) -> dict[str, str]:
    """The fields a `fieldSelector` may test, as Kubernetes serves them for every kind."""
    return {"metadata.name": obj.name, "metadata.namespace": obj.namespace}
