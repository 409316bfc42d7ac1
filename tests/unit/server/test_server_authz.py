"""The two lanes as a decision table: who may read and write what, and refusals that say the fix."""

from __future__ import annotations

import pytest

from laneway.api.manifest import parse_object
from laneway.api.meta import OwnerReference
from laneway.api.registry import by_kind
from laneway.server.authz import Access, authorize, can_read_namespace, may_manage_tokens
from laneway.store.base import TokenRecord

ADMIN = TokenRecord("a", "admin")
PLATFORM = TokenRecord("p", "platform")
TEAM = TokenRecord("t", "team", ("ml-team", "research"))


def access(verb: str, kind: str, namespace: str = "", **kwargs: object) -> Access:
    return Access(verb=verb, kind=by_kind(kind), namespace=namespace, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grant", "verb", "kind", "namespace", "allowed"),
    [
        (ADMIN, "create", "ModelReplica", "ml-team", True),
        (ADMIN, "create", "InferenceCluster", "", True),
        (PLATFORM, "create", "InferenceCluster", "", True),
        (PLATFORM, "update", "InferenceClass", "", True),
        (PLATFORM, "delete", "InferenceGateway", "", True),
        (PLATFORM, "create", "Secret", "laneway-system", True),
        (PLATFORM, "create", "Secret", "ml-team", False),
        (PLATFORM, "create", "ModelDeployment", "ml-team", False),
        (PLATFORM, "create", "ModelReplica", "ml-team", False),
        (PLATFORM, "get", "Secret", "ml-team", True),
        (PLATFORM, "list", "ModelDeployment", "", True),
        (TEAM, "create", "InferenceCluster", "", False),
        (TEAM, "create", "InferenceClass", "", False),
        (TEAM, "create", "ModelReplica", "ml-team", False),
        (TEAM, "create", "ModelDeployment", "ml-team", True),
        (TEAM, "patch", "ModelService", "research", True),
        (TEAM, "create", "ModelEndpoint", "ml-team", True),
        (TEAM, "create", "ModelCache", "ml-team", True),
        (TEAM, "create", "InferenceTicket", "ml-team", True),
        (TEAM, "create", "Secret", "ml-team", True),
        (TEAM, "create", "Secret", "laneway-system", False),
        (TEAM, "create", "ModelDeployment", "other", False),
        (TEAM, "delete", "ModelDeployment", "other", False),
        (TEAM, "get", "ModelDeployment", "other", False),
        (TEAM, "get", "ModelReplica", "ml-team", True),
        (TEAM, "list", "InferenceCluster", "", True),
        (TEAM, "get", "InferenceClass", "", True),
        (TEAM, "watch", "InferenceGateway", "", True),
        (TEAM, "list", "ModelDeployment", "", True),  # all namespaces: filtered to its own
    ],
)
def test_matrix(grant: TokenRecord, verb: str, kind: str, namespace: str, allowed: bool) -> None:
    assert authorize(grant, access(verb, kind, namespace)).allowed is allowed


def test_status_is_written_by_admin_only() -> None:
    for grant in (PLATFORM, TEAM):
        decision = authorize(grant, access("update", "ModelDeployment", "ml-team", subresource="status"))
        assert not decision.allowed and "controllers" in decision.message
    assert authorize(ADMIN, access("update", "ModelDeployment", "ml-team", subresource="status")).allowed


def test_scale_follows_the_deployment() -> None:
    assert authorize(TEAM, access("update", "ModelDeployment", "ml-team", subresource="scale")).allowed
    assert not authorize(TEAM, access("update", "ModelDeployment", "other", subresource="scale")).allowed


def _endpoint(controller: bool | None) -> object:
    doc = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelEndpoint",
        "metadata": {"name": "e", "namespace": "ml-team"},
        "spec": {"url": "http://10.0.0.1:8000"},
    }
    obj = parse_object(doc)
    if controller is not None:
        ref = OwnerReference(kind="ModelReplica", name="llama-0", uid="u1", controller=controller)
        obj.metadata.owner_references.append(ref)
    return obj


def test_team_never_writes_a_composed_object() -> None:
    composed = _endpoint(controller=True)
    decision = authorize(TEAM, access("update", "ModelEndpoint", "ml-team", existing=composed))
    assert not decision.allowed
    assert "ModelReplica 'llama-0'" in decision.message and "change the ModelReplica" in decision.message
    assert not authorize(TEAM, access("create", "ModelEndpoint", "ml-team", obj=composed)).allowed
    assert not authorize(TEAM, access("delete", "ModelEndpoint", "ml-team", existing=composed)).allowed


def test_team_writes_external_endpoints() -> None:
    plain_owner = _endpoint(controller=False)
    assert authorize(TEAM, access("update", "ModelEndpoint", "ml-team", obj=plain_owner, existing=_endpoint(None))).allowed


def test_refusals_say_what_would_be_allowed() -> None:
    message = authorize(TEAM, access("create", "ModelDeployment", "other")).message
    assert "role team" in message and "--namespace other" in message
    message = authorize(TEAM, access("create", "InferenceCluster")).message
    assert "platform" in message
    message = authorize(PLATFORM, access("create", "Secret", "ml-team")).message
    assert "laneway-system" in message


def test_namespace_visibility_and_token_management() -> None:
    assert can_read_namespace(TEAM, "ml-team") and not can_read_namespace(TEAM, "other")
    assert can_read_namespace(PLATFORM, "other")
    assert may_manage_tokens(ADMIN).allowed
    assert not may_manage_tokens(PLATFORM).allowed and not may_manage_tokens(TEAM).allowed


def _service(**spec: object) -> object:
    doc = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "chat", "namespace": "ml-team", "labels": {"app": "chat"}},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"laneway.dev/deployment": "chat"}}}], **spec},
    }
    return parse_object(doc)


def test_platform_flips_only_the_break_glass_switch() -> None:
    stored = _service()
    flipped = _service(breakGlass=True)
    assert authorize(PLATFORM, access("patch", "ModelService", "ml-team")).allowed  # asked again with the body
    assert authorize(PLATFORM, access("patch", "ModelService", "ml-team", obj=flipped, existing=stored)).allowed
    assert authorize(PLATFORM, access("update", "ModelService", "ml-team", obj=stored, existing=flipped)).allowed
    rerouted = _service(breakGlass=True, endpoints=[{"selector": {"matchLabels": {"anything": "else"}}}])
    decision = authorize(PLATFORM, access("patch", "ModelService", "ml-team", obj=rerouted, existing=stored))
    assert not decision.allowed and "only spec.breakGlass" in decision.message
    relabelled = _service(breakGlass=True)
    relabelled.metadata.labels["laneway.dev/jurisdiction"] = "us"  # type: ignore[attr-defined]
    assert not authorize(PLATFORM, access("patch", "ModelService", "ml-team", obj=relabelled, existing=stored)).allowed
    assert not authorize(PLATFORM, access("create", "ModelService", "ml-team", obj=flipped)).allowed
    assert not authorize(PLATFORM, access("delete", "ModelService", "ml-team", existing=stored)).allowed
    assert not authorize(PLATFORM, access("patch", "ModelService", "ml-team", subresource="status")).allowed
    assert not authorize(PLATFORM, access("patch", "ModelDeployment", "ml-team")).allowed


def test_a_deleted_tickets_tombstone_is_not_the_teams_to_edit_or_delete() -> None:
    tombstone = parse_object({
        "apiVersion": "laneway.dev/v1alpha1", "kind": "ModelService",
        "metadata": {"name": "pr-review", "namespace": "ml-team", "labels": {"laneway.dev/ticket": "pr-review"},
                     "annotations": {"laneway.dev/tombstone-until": "2031-01-01T00:00:00Z", "laneway.dev/retired": "gone"}},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]},
    })
    for verb in ("update", "patch", "delete"):
        decision = authorize(TEAM, access(verb, "ModelService", "ml-team", existing=tombstone))
        assert not decision.allowed
        assert "tombstone of the deleted InferenceTicket 'pr-review'" in decision.message
        assert "until 2031-01-01T00:00:00Z" in decision.message and "create an InferenceTicket named 'pr-review'" in decision.message
    assert authorize(ADMIN, access("delete", "ModelService", "ml-team", existing=tombstone)).allowed
    plain = tombstone.model_copy(update={"metadata": tombstone.metadata.model_copy(update={"annotations": {}})})
    assert authorize(TEAM, access("delete", "ModelService", "ml-team", existing=plain)).allowed
