"""Who owns a model name on the shared `/v1` route. Pure.

Every ModelService answers on `/v1` to its own name and to its `spec.modelNames`; those names
share one flat space across namespaces, and a team may write any of them. Without an owner,
a team could publish a name another team's callers already use and receive their prompts.

The rule: a name belongs to the namespace of the first ModelService that claimed it, ordered
by `metadata.creationTimestamp` (set by the store, never by the writer), ties broken by
`metadata.uid`. Every service of the owning namespace that publishes the name shares it (a
rollout's old and new service, a keyed and a keyless variant); a claim from any other
namespace is a conflict: it gets no `/v1` route for that name, and the gateway puts a
`ModelNameConflict` condition on its status. The owner keeps the name until its last claiming
service is gone (deleted or being deleted), even while retired, so a name cannot be taken over
by waiting for a retirement.

What this module does not decide: which of the owner's services a given caller reaches (that
depends on the caller's key; see `routing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey


def published_names(service: ModelService) -> tuple[str, ...]:
    """The model names a service answers to on `/v1`: its own name first, then `modelNames`."""
    return tuple(dict.fromkeys([service.name, *service.spec.model_names]))


def claim_order(service: ModelService) -> tuple[str, str, str, str]:
    """The order in which services claimed their names: creation time, then uid (then the key,
    so objects a store has not stamped yet still sort the same way every time)."""
    meta = service.metadata
    return (meta.creation_timestamp or "", meta.uid or "", service.namespace, service.name)


@dataclass(frozen=True)
class NameOwnership:
    owners: Mapping[str, str] = field(default_factory=dict)
    """Model name -> the namespace that owns it."""
    routed: Mapping[str, tuple[ObjectKey, ...]] = field(default_factory=dict)
    """Model name -> the services that answer to it on `/v1` (all in the owning namespace),
    in claim order."""
    losers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Model name -> the other namespaces that claimed it too (their claims have no route)."""
    conflicts: Mapping[ObjectKey, tuple[str, ...]] = field(default_factory=dict)
    """Service -> the names it publishes that another namespace owns."""


def resolve_ownership(services: Iterable[ModelService]) -> NameOwnership:
    """Owners, routes and conflicts for every name the given (live) services publish."""
    owners: dict[str, str] = {}
    routed: dict[str, list[ObjectKey]] = {}
    losers: dict[str, set[str]] = {}
    conflicts: dict[ObjectKey, list[str]] = {}
    for service in sorted(services, key=claim_order):
        for name in published_names(service):
            owner = owners.setdefault(name, service.namespace)
            if owner == service.namespace:
                routed.setdefault(name, []).append(service.key)
            else:
                losers.setdefault(name, set()).add(service.namespace)
                conflicts.setdefault(service.key, []).append(name)
    return NameOwnership(
        owners=owners,
        routed={name: tuple(keys) for name, keys in routed.items()},
        losers={name: frozenset(nss) for name, nss in losers.items()},
        conflicts={key: tuple(names) for key, names in conflicts.items()},
    )


def conflict_message(service: ObjectKey, names: Iterable[str]) -> str:
    """The `ModelNameConflict` message: what is refused and what to change.

    It never names the namespace that owns the name: the status is readable by this
    namespace's team tokens, which may not see other namespaces, and a name's owner is another
    team's business. The platform lane finds the owner with `laneway get ms -A`."""
    quoted = ", ".join(repr(n) for n in names)
    return (
        f"model name(s) {quoted} already belong to a ModelService in another namespace that claimed them first "
        f"(the first claim by creation time owns a name on /v1), so /v1 does not route them here; "
        f"choose other names in spec.modelNames (or rename the service), or call this service at "
        f"/{service.namespace}/{service.name}/v1/..."
    )
