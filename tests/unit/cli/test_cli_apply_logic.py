"""Apply's pure parts: what to send on update, when nothing changed, order and namespaces."""

from __future__ import annotations

import pytest
from cli_objects import deployment, obj

from laneway.cli.apply import in_apply_order, with_namespace
from laneway.cli.errors import Failure
from laneway.client import merge_for_update, needs_update

SERVER_FIELDS = {
    "metadata.uid": "u-1",
    "metadata.resourceVersion": "7",
    "metadata.generation": 3,
    "metadata.creationTimestamp": "2025-01-01T00:00:00Z",
    "metadata.finalizers": ["laneway.dev/replicas"],
    "status.conditions": [{"type": "Ready", "status": "True"}],
}


def test_same_manifest_is_unchanged_despite_server_fields() -> None:
    assert not needs_update(desired=deployment(), live=deployment(**SERVER_FIELDS))


def test_spec_change_needs_update_and_keeps_server_fields() -> None:
    live = deployment(**SERVER_FIELDS)
    desired = deployment(**{"spec.replicas": 5})
    assert needs_update(desired=desired, live=live)
    merged = merge_for_update(desired=desired, live=live)
    assert merged.spec.replicas == 5  # type: ignore[attr-defined]
    assert merged.metadata.uid == "u-1" and merged.metadata.resource_version == "7"
    assert merged.metadata.finalizers == ["laneway.dev/replicas"]
    assert merged.status.conditions[0].type == "Ready"  # type: ignore[attr-defined]


def test_system_labels_set_by_laneway_survive_an_apply() -> None:
    live = deployment(**SERVER_FIELDS, **{"metadata.labels": {"app": "llama", "laneway.dev/ticket": "t1"}})
    desired = deployment()
    assert not needs_update(desired=desired, live=live)
    assert merge_for_update(desired=desired, live=live).metadata.labels == {"laneway.dev/ticket": "t1", "app": "llama"}


def test_user_label_removed_from_manifest_is_removed() -> None:
    live = deployment(**{"metadata.labels": {"app": "llama", "old": "x"}})
    assert needs_update(desired=deployment(), live=live)


def test_secrets_are_always_sent() -> None:
    secret = obj("apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: ml-team}\nstringData: {key: v}\n")
    assert needs_update(desired=secret, live=secret.redacted())  # type: ignore[attr-defined]


def test_apply_order_puts_dependencies_first() -> None:
    secret = obj("apiVersion: v1\nkind: Secret\nmetadata: {name: k}\n")
    cls = obj(
        "apiVersion: laneway.dev/v1alpha1\nkind: InferenceClass\nmetadata: {name: c}\n"
        "spec: {devices: [{name: cpu, claim: Synthetic, driver: cpu.laneway.dev}]}\n"
    )
    md = deployment()
    assert [o.kind for o in in_apply_order([md, secret, cls])] == ["Secret", "InferenceClass", "ModelDeployment"]


def test_namespace_filled_from_flag_or_default() -> None:
    md = obj(
        "apiVersion: laneway.dev/v1alpha1\nkind: ModelEndpoint\nmetadata: {name: e}\nspec: {url: 'http://x.example.com'}\n"
    )
    assert with_namespace(md, None).namespace == "default"
    assert with_namespace(md, "ml-team").namespace == "ml-team"


def test_namespace_mismatch_is_a_usage_error() -> None:
    with pytest.raises(Failure) as e:
        with_namespace(deployment(), "other")
    assert e.value.exit_code == 2 and "ml-team" in e.value.message


def test_cluster_scoped_objects_get_no_namespace() -> None:
    cls = obj(
        "apiVersion: laneway.dev/v1alpha1\nkind: InferenceClass\nmetadata: {name: c}\n"
        "spec: {devices: [{name: cpu, claim: Synthetic, driver: cpu.laneway.dev}]}\n"
    )
    assert with_namespace(cls, "ml-team").metadata.namespace is None
