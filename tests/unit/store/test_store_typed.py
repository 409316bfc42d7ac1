"""The typed surface of the Store contract, on every backend: a read names its kind by model
class and returns that class; a kind name still works and returns the same objects."""

from __future__ import annotations

import pytest
from store_objects import endpoint, gateway, secret

from laneway.api.kinds import InferenceGateway, ModelEndpoint, ModelReplica, Secret
from laneway.api.meta import ObjectKey
from laneway.api.selectors import parse_selector
from laneway.store.base import ListResult, NotFound, Store


def test_get_by_class_returns_that_class(store: Store) -> None:
    created = store.create(endpoint("a"))
    got = store.get(ModelEndpoint, ObjectKey("ml-team", "a"))
    assert type(got) is ModelEndpoint
    assert got == created
    assert got.spec.url == "http://127.0.0.1:9000"
    assert store.get("ModelEndpoint", ObjectKey("ml-team", "a")) == got


def test_writes_return_the_class_they_were_given(store: Store) -> None:
    created = store.create(endpoint("a"))
    assert type(created) is ModelEndpoint
    updated = store.update(created.model_copy(update={"spec": created.spec.model_copy(update={"url": "http://127.0.0.1:9001"})}))
    assert type(updated) is ModelEndpoint and updated.spec.url == "http://127.0.0.1:9001"
    assert type(store.update_status(updated)) is ModelEndpoint
    deleted = store.delete(ModelEndpoint, updated.key)
    assert type(deleted) is ModelEndpoint and deleted.metadata.uid == created.metadata.uid


def test_find_misses_with_none_and_hits_with_the_object(store: Store) -> None:
    assert store.find(ModelEndpoint, ObjectKey("ml-team", "a")) is None
    created = store.create(endpoint("a"))
    assert store.find(ModelEndpoint, ObjectKey("ml-team", "a")) == created
    assert store.find("ModelEndpoint", ObjectKey("ml-team", "a")) == created
    # Another kind under the same key is a different object: a miss.
    assert store.find(ModelReplica, ObjectKey("ml-team", "a")) is None


def test_get_by_class_of_a_missing_object_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="ModelEndpoint 'ml-team/a' not found"):
        store.get(ModelEndpoint, ObjectKey("ml-team", "a"))


def test_list_by_class_is_typed_and_filtered(store: Store) -> None:
    store.create(endpoint("a", labels={"tier": "gold"}))
    store.create(endpoint("b", labels={"tier": "iron"}))
    store.create(endpoint("c", namespace="other", labels={"tier": "gold"}))
    store.create(gateway("front"))
    store.create(secret("s"))
    listed = store.list(ModelEndpoint, selector=parse_selector("tier=gold"))
    assert isinstance(listed, ListResult)
    assert [(e.namespace, e.name) for e in listed.items] == [("ml-team", "a"), ("other", "c")]
    assert all(type(e) is ModelEndpoint for e in listed.items)
    assert listed.revision == store.revision()
    assert [e.name for e in store.list(ModelEndpoint, namespace="ml-team").items] == ["a", "b"]
    assert [g.name for g in store.list(InferenceGateway).items] == ["front"]
    assert [s.name for s in store.list(Secret, namespace="ml-team").items] == ["s"]
    assert store.list("ModelEndpoint").items == store.list(ModelEndpoint).items


def test_cluster_scoped_class_ignores_the_namespace_of_the_key(store: Store) -> None:
    store.create(gateway("front"))
    assert store.get(InferenceGateway, ObjectKey("anything", "front")).name == "front"


def test_a_class_that_is_not_a_registered_kind_is_refused(store: Store) -> None:
    class NotAKind(ModelEndpoint):
        KIND = "NotAKind"

    with pytest.raises(LookupError, match="unknown resource kind"):
        store.get(NotAKind, ObjectKey("ml-team", "a"))
