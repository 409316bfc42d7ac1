"""What a controller is, as the manager sees it.

A controller is level-triggered: `reconcile(key)` reads the world as it is now, computes the
desired state and applies the difference. It is handed only a key, never the event that
caused it, so missing or merging events changes nothing: the manager may call it for the same
key any number of times, and calling it twice in a row must change nothing the second time.

The manager guarantees that one key of one controller is never reconciled by two workers at
once, that a key queued several times while it waits is reconciled once, and that a failing
reconcile (an exception) is retried with per-key exponential backoff. It does not guarantee
any ordering between different keys.

Optional capabilities a controller may declare, each a protocol of its own so the core stays
small:
- `Concurrent` (`concurrency: int`, default 1): how many keys of this controller are
  reconciled at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from laneway.api.meta import ObjectKey, Resource
from laneway.paths import DataDir
from laneway.store.base import Store

if TYPE_CHECKING:
    from laneway.drivers.registry import DriverSet

KeyMapper = Callable[[Resource], Iterable[ObjectKey]]
"""Maps an object of a watched (secondary) kind to the primary keys it affects."""

NO_PRIMARY_KIND = ""
"""The `kind` of a controller whose keys all come from its `watches` (the garbage collector)."""

DEFAULT_CONCURRENCY = 1


@dataclass(frozen=True)
class Result:
    """What a successful reconcile asks for next: nothing, or another look after a delay.

    A reconcile that must wait on something the store does not announce (a process starting,
    a remote cluster) returns `Result(requeue_after=seconds)` instead of sleeping, so it does
    not hold a worker. A failure is an exception, never a Result: the manager backs it off.
    """

    requeue_after: float | None = None

    def __post_init__(self) -> None:
        if self.requeue_after is not None and self.requeue_after < 0:
            raise ValueError(f"Result.requeue_after must be >= 0 seconds or None, got {self.requeue_after!r}")


@runtime_checkable
class Controller(Protocol):
    """One reconciler for one primary kind.

    `kind` is the kind whose objects are reconciled (their keys are queued on every change);
    `watches` maps each secondary kind to a function from a changed object of that kind to
    the primary keys to queue (a ModelReplica maps to its owning ModelDeployment's key, say).
    Kinds are kind names, e.g. "ModelDeployment".
    """

    name: str
    kind: str
    watches: Mapping[str, KeyMapper]

    async def reconcile(self, key: ObjectKey) -> Result: ...


@dataclass
class ControlContext:
    """Everything a controller may need from its surroundings, passed explicitly.

    Controllers read the time through `clock` (seconds since the epoch) rather than calling
    `time.time()`, so tests can drive time. `data_dir` is None when the manager runs without
    a local data directory (a separate control-plane process against a shared store);
    `gateway_address` is None until a gateway is known; `gateway_token` gives the platform
    token its `/metrics` needs (else the data directory's admin token). `drivers` owns the drivers that run
replicas; without it (a manager that only schedules) no replica or cluster controller runs.
    """

    store: Store
    data_dir: DataDir | None = None
    gateway_address: str | None = None
    gateway_token: Callable[[], str | None] | None = None
    clock: Callable[[], float] = field(default=time.time)
    drivers: DriverSet | None = None
    plan_in_batches: bool = True
    """Plan every queued deployment in one pass (False: one per reconcile, for comparison)."""


@runtime_checkable
class BatchController(Controller, Protocol):
    """A controller that reconciles many keys in one pass over one read of the world (the
    deployment controller plans every deployment that needs it against one fleet snapshot).

    The manager hands it every key ready at that moment (at most `batch_limit`); it returns a
    Result per key it wants to see again (keys left out need nothing more). An exception fails
    the whole batch: every key of it is retried with its backoff. The same guarantees as for
    `reconcile` hold per key: never two passes over one key at once."""

    batch_limit: int

    async def reconcile_batch(self, keys: Sequence[ObjectKey]) -> Mapping[ObjectKey, Result]: ...


@runtime_checkable
class Concurrent(Protocol):
    """A controller that reconciles several keys at once."""

    concurrency: int


def concurrency_of(controller: Controller) -> int:
    """The controller's worker count: its `concurrency` when it is `Concurrent`, else 1."""
    value = controller.concurrency if isinstance(controller, Concurrent) else DEFAULT_CONCURRENCY
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"controller {controller.name!r} has concurrency {value!r}; set it to a whole number of at least 1"
        )
    return value


def owner_keys(owner_kind: str) -> KeyMapper:
    """A `watches` mapper for the common case: a changed object queues its owners of
    `owner_kind` (a ModelReplica queues its ModelDeployment). Owners live in the object's
    namespace, or at cluster scope when `owner_kind` is cluster-scoped, as in Kubernetes."""
    from laneway.api.registry import by_kind  # the kind table imports every kind; load it late

    namespaced = by_kind(owner_kind).namespaced

    def keys(obj: Resource) -> list[ObjectKey]:
        ns = obj.namespace if namespaced else ""
        return [ObjectKey(ns, ref.name) for ref in obj.metadata.owner_references if ref.kind == owner_kind]

    return keys
