"""The two lanes, as one pure decision: may this token do this to this object?

Roles (a token carries exactly one):

- `admin`: everything, token management included.
- `platform`: reads everything; writes the cluster-scoped kinds (InferenceGateway,
  InferenceClass, InferenceCluster) and Secrets in `laneway-system`, where the Secrets that
  cluster-scoped objects reference live; and flips a ModelService's break-glass switch
  (`spec.breakGlass`, an operator's call in an incident), nothing else of the service.
- `team`, scoped to namespaces: writes ModelDeployments, ModelServices, external
  ModelEndpoints, ModelCaches, InferenceTickets and Secrets in its namespaces; reads those
  namespaces and every cluster-scoped kind (the published classes, clusters and gateway).

Nobody but admin writes ModelReplicas (only the scheduler composes them, so only it names a
cluster), a composed object (one with a controller ownerReference: laneway keeps it in line
with its owner, so the owner is what to change), a deleted ticket's tombstone (a service
marked `laneway.dev/tombstone-until`: it answers 410 for the platform's tombstone period, and
a team that deleted or edited it would end that promise to its callers early), or a status
(controllers write statuses).

Every refusal says which role and namespace would be allowed, so the message is the fix.
The function reads no state; the server hands it the object as written and as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from laneway.api.kinds.serving import ModelService
from laneway.api.labels import TICKET_LABEL, TOMBSTONE_UNTIL_ANNOTATION
from laneway.api.meta import SYSTEM_NAMESPACE, OwnerReference, Resource
from laneway.api.registry import KindInfo
from laneway.store.base import TokenRecord

Verb = Literal["get", "list", "watch", "create", "update", "patch", "delete"]
READ_VERBS: frozenset[str] = frozenset({"get", "list", "watch"})

TEAM_WRITABLE_KINDS: frozenset[str] = frozenset(
    {"ModelDeployment", "ModelService", "ModelEndpoint", "ModelCache", "InferenceTicket", "Secret"}
)
ADMIN_ONLY_KINDS: frozenset[str] = frozenset({"ModelReplica"})
PLATFORM_STATUS_KINDS: frozenset[str] = frozenset({"InferenceTicket"})
"""Kinds whose status the platform role may write: a ticket's approval lives there."""


@dataclass(frozen=True)
class Access:
    """One request, as authorisation sees it.

    `namespace` is "" for cluster-scoped kinds and for lists across all namespaces. `obj` is
    the object as the client would write it, `existing` as stored; either may be unknown yet
    (the server asks once before reading the body and again once it has both)."""

    verb: Verb
    kind: KindInfo
    namespace: str = ""
    subresource: str | None = None
    obj: Resource | None = None
    existing: Resource | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    message: str = ""


ALLOW = Decision(True)


def _refuse(message: str) -> Decision:
    return Decision(False, message)


def describe_grant(grant: TokenRecord) -> str:
    if grant.role == "team":
        return f"role team (namespaces {', '.join(grant.namespaces) or 'none'})"
    return f"role {grant.role}"


def can_read_namespace(grant: TokenRecord, namespace: str) -> bool:
    """Whether the token sees objects in `namespace` (team tokens see only their own)."""
    return grant.role != "team" or namespace in grant.namespaces


def composer_of(obj: Resource | None) -> OwnerReference | None:
    """The controller ownerReference that marks `obj` as composed by laneway, if any."""
    if obj is None:
        return None
    for ref in obj.metadata.owner_references:
        if ref.controller:
            return ref
    return None


def _team_token_hint(namespace: str) -> str:
    return f"a team token for namespace {namespace!r} (laneway token create --role team --namespace {namespace})"


def _authorize_read(grant: TokenRecord, access: Access) -> Decision:
    info = access.kind
    if not info.namespaced or not access.namespace or can_read_namespace(grant, access.namespace):
        return ALLOW
    return _refuse(
        f"{describe_grant(grant)} may not read {info.plural} in namespace {access.namespace!r}: "
        f"use {_team_token_hint(access.namespace)}, or a platform or admin token"
    )


def _authorize_write(grant: TokenRecord, access: Access) -> Decision:
    info = access.kind
    who = describe_grant(grant)
    if access.subresource == "status" and info.kind in PLATFORM_STATUS_KINDS and grant.role == "platform":
        return ALLOW  # approving a ticket (`laneway ticket approve`) is the platform lane's decision
    if access.subresource == "status":
        return _refuse(
            f"{who} may not write the status of {info.kind}: statuses are written by laneway's controllers; "
            "only an admin token writes them through the API"
        )
    if info.kind in ADMIN_ONLY_KINDS:
        return _refuse(
            f"{who} may not {access.verb} {info.kind}: ModelReplicas are composed by laneway's scheduler, the only "
            "part that names a cluster; change the ModelDeployment (replicas, template, clusterSelector) instead"
        )
    if not info.namespaced:
        if grant.role == "platform":
            return ALLOW
        return _refuse(
            f"{who} may not {access.verb} {info.kind}: cluster-scoped kinds are published by the platform lane; "
            "use a platform or admin token (laneway token create --role platform)"
        )
    namespace = access.namespace
    if grant.role == "platform" and info.kind == "ModelService" and access.verb in ("update", "patch"):
        return _authorize_break_glass(who, access)
    if grant.role == "platform":
        if info.kind == "Secret" and namespace == SYSTEM_NAMESPACE:
            return ALLOW
        if info.kind == "Secret":
            return _refuse(
                f"{who} writes Secrets only in namespace {SYSTEM_NAMESPACE!r}; a Secret in namespace {namespace!r} "
                f"is written with {_team_token_hint(namespace)} or an admin token"
            )
        return _refuse(
            f"{who} may not {access.verb} {info.kind}: model-side objects are written by the team lane; "
            f"use {_team_token_hint(namespace)} or an admin token"
        )
    # team
    if info.kind not in TEAM_WRITABLE_KINDS:
        return _refuse(f"{who} may not {access.verb} {info.kind}; only an admin token writes it")
    if namespace not in grant.namespaces:
        return _refuse(
            f"{who} may not {access.verb} {info.plural} in namespace {namespace!r}: "
            f"use {_team_token_hint(namespace)} or an admin token"
        )
    for obj in (access.existing, access.obj):
        ref = composer_of(obj)
        if ref is not None and obj is not None:
            return _refuse(
                f"{who} may not {access.verb} {info.kind} {obj.key}: it is composed by {ref.kind} {ref.name!r} "
                f"(its controller ownerReference) and laneway keeps it in line with that owner; change the "
                f"{ref.kind} instead"
            )
    tombstone = access.existing
    if tombstone is not None and TOMBSTONE_UNTIL_ANNOTATION in tombstone.metadata.annotations:
        ticket = tombstone.metadata.labels.get(TICKET_LABEL, "?")
        until = tombstone.metadata.annotations[TOMBSTONE_UNTIL_ANNOTATION]
        return _refuse(
            f"{who} may not {access.verb} {info.kind} {tombstone.key}: it is the tombstone of the deleted InferenceTicket "
            f"{ticket!r} and answers 410 Gone until {until} (the platform's tombstone period); laneway deletes it then. "
            f"To serve under this name again, create an InferenceTicket named {ticket!r} (it takes the service over)"
        )
    return ALLOW


def only_break_glass_differs(obj: Resource, existing: Resource) -> bool:
    """Whether `obj` is `existing` with at most its `spec.breakGlass` switched (metadata included)."""
    if not isinstance(obj, ModelService) or not isinstance(existing, ModelService):
        return False
    same_switch = obj.spec.model_copy(update={"break_glass": existing.spec.break_glass})
    meta = obj.metadata
    return (
        same_switch == existing.spec
        and meta.labels == existing.metadata.labels
        and meta.annotations == existing.metadata.annotations
        and meta.owner_references == existing.metadata.owner_references
        and meta.finalizers == existing.metadata.finalizers
    )


def _authorize_break_glass(who: str, access: Access) -> Decision:
    """The platform's one write on a ModelService: its break-glass switch. Asked before the body
    is read (both objects unknown) the answer is "go on"; asked again with both, it holds only
    when nothing but `spec.breakGlass` changes."""
    if access.subresource is not None:
        return _refuse(f"{who} may not write the {access.subresource} of ModelService; only its spec.breakGlass")
    if access.obj is None or access.existing is None:
        return ALLOW
    if only_break_glass_differs(access.obj, access.existing):
        return ALLOW
    return _refuse(
        f"{who} may change only spec.breakGlass of ModelService {access.existing.key} (the break-glass switch: "
        f"laneway service break-glass {access.existing.name} --on|--off); the rest of a service is written with "
        f"{_team_token_hint(access.namespace)} or an admin token"
    )


def authorize(grant: TokenRecord, access: Access) -> Decision:
    """Allow or refuse `access` for the token `grant`; a refusal's message says what would be allowed."""
    if grant.role == "admin":
        return ALLOW
    if access.verb in READ_VERBS:
        return _authorize_read(grant, access)
    return _authorize_write(grant, access)


def may_manage_tokens(grant: TokenRecord) -> Decision:
    if grant.role == "admin":
        return ALLOW
    return _refuse(
        f"{describe_grant(grant)} may not manage tokens: only an admin token creates, rotates, lists or revokes "
        "other tokens (any token may list and revoke itself)"
    )
