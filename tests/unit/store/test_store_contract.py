"""The Store contract, run against MemoryStore and SqliteStore alike (see conftest.py)."""

from __future__ import annotations

import threading

import pytest
from store_objects import endpoint, gateway, secret, with_labels, with_url

from laneway.api.kinds import ModelEndpoint
from laneway.api.meta import ObjectKey
from laneway.api.selectors import parse_selector
from laneway.store.base import AlreadyExists, Conflict, Gone, Invalid, NotFound, Store, TokenRecord

KIND = "ModelEndpoint"


# -- create / get -------------------------------------------------------------------------------


def test_create_assigns_identity_and_bookkeeping(store: Store) -> None:
    created = store.create(endpoint("a"))
    meta = created.metadata
    assert meta.uid and len(meta.uid) == 36
    assert meta.generation == 1
    assert meta.resource_version == str(store.revision())
    assert meta.creation_timestamp and meta.creation_timestamp.endswith("Z")
    assert meta.deletion_timestamp is None
    assert store.get(KIND, ObjectKey("ml-team", "a")) == created


def test_create_ignores_store_owned_fields_sent_by_the_caller(store: Store) -> None:
    obj = endpoint("a")
    obj.metadata.uid = "made-up"
    obj.metadata.generation = 7
    obj.metadata.deletion_timestamp = "2020-01-01T00:00:00Z"
    created = store.create(obj)
    assert created.metadata.uid != "made-up"
    assert created.metadata.generation == 1
    assert created.metadata.deletion_timestamp is None


def test_create_twice_is_already_exists(store: Store) -> None:
    store.create(endpoint("a"))
    with pytest.raises(AlreadyExists, match="already exists"):
        store.create(endpoint("a"))
    store.create(endpoint("a", namespace="other"))  # same name, other namespace: fine


def test_namespaced_kind_needs_a_namespace(store: Store) -> None:
    obj = endpoint("a")
    obj.metadata.namespace = None
    with pytest.raises(Invalid, match=r"metadata\.namespace"):
        store.create(obj)


def test_cluster_scoped_kind_drops_a_namespace(store: Store) -> None:
    obj = gateway("front")
    obj.metadata.namespace = "ignored"
    created = store.create(obj)
    assert created.metadata.namespace is None
    assert store.get("InferenceGateway", ObjectKey("", "front")).metadata.uid == created.metadata.uid
    assert store.namespaces() == []


def test_get_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="ModelEndpoint 'ml-team/nope' not found"):
        store.get(KIND, ObjectKey("ml-team", "nope"))


# -- update / generation / status ---------------------------------------------------------------


def test_spec_change_bumps_generation_label_change_does_not(store: Store) -> None:
    a = store.create(endpoint("a"))
    relabelled = store.update(with_labels(a, {"tier": "gold"}))
    assert relabelled.metadata.generation == 1
    assert int(relabelled.metadata.resource_version or 0) > int(a.metadata.resource_version or 0)
    changed = store.update(with_url(relabelled, "http://127.0.0.1:9001"))  # type: ignore[arg-type]
    assert changed.metadata.generation == 2
    assert changed.metadata.labels == {"tier": "gold"}


def test_update_that_changes_nothing_writes_nothing(store: Store) -> None:
    a = store.create(endpoint("a"))
    before = store.revision()
    again = store.update(a)
    assert store.revision() == before
    assert again == a
    assert store.update_status(a) == a
    assert store.revision() == before


def test_update_keeps_status_and_store_owned_metadata(store: Store) -> None:
    a = store.create(endpoint("a"))
    a.status.ready = True
    with_status = store.update_status(a)
    edit = with_url(with_status, "http://127.0.0.1:9002")  # type: ignore[arg-type]
    edit.status.ready = False  # ignored by update
    edit.metadata.uid = None
    edit.metadata.creation_timestamp = None
    updated = store.update(edit)
    assert updated.status.ready is True
    assert updated.metadata.uid == a.metadata.uid
    assert updated.metadata.creation_timestamp == a.metadata.creation_timestamp


def test_update_status_changes_status_only(store: Store) -> None:
    a = store.create(endpoint("a"))
    edit = with_url(a, "http://127.0.0.1:9003")
    edit.status.ready = True
    updated = store.update_status(edit)
    assert updated.status.ready is True
    assert updated.spec.url == a.spec.url  # type: ignore[attr-defined]
    assert updated.metadata.generation == 1


def test_update_status_of_a_kind_without_status_is_invalid(store: Store) -> None:
    s = store.create(secret("k", token="x"))
    with pytest.raises(Invalid, match="no status"):
        store.update_status(s)


def test_secret_generation_follows_data(store: Store) -> None:
    s = store.create(secret("k", token="one"))
    assert store.update(with_labels(s, {"a": "b"})).metadata.generation == 1
    changed = secret("k", token="two")
    assert store.update(changed).metadata.generation == 2


def test_update_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.update(endpoint("ghost"))


# -- optimistic concurrency ---------------------------------------------------------------------


def test_stale_resource_version_is_a_conflict(store: Store) -> None:
    a = store.create(endpoint("a"))
    store.update(with_url(a, "http://127.0.0.1:9100"))
    with pytest.raises(Conflict, match="was modified since you read it"):
        store.update(with_url(a, "http://127.0.0.1:9200"))
    with pytest.raises(Conflict):
        store.update_status(a)
    with pytest.raises(Conflict):
        store.delete(KIND, a.key, resource_version=a.metadata.resource_version)


def test_without_resource_version_the_last_writer_wins(store: Store) -> None:
    store.create(endpoint("a"))
    blind = endpoint("a", url="http://127.0.0.1:9300")
    assert store.update(blind).spec.url == "http://127.0.0.1:9300"


def test_a_recreated_object_is_a_conflict_by_uid(store: Store) -> None:
    a = store.create(endpoint("a"))
    store.delete(KIND, a.key)
    store.create(endpoint("a"))
    stale = with_url(a, "http://127.0.0.1:9400")
    stale.metadata.resource_version = None
    with pytest.raises(Conflict, match="different object"):
        store.update(stale)


def test_concurrent_read_modify_write_loses_nothing(store: Store) -> None:
    store.create(endpoint("counter"))
    key = ObjectKey("ml-team", "counter")

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                cur = store.get(KIND, key)
                n = int(cur.metadata.annotations.get("n", "0"))
                cur.metadata.annotations["n"] = str(n + 1)
                try:
                    store.update(cur)
                    break
                except Conflict:
                    continue

    threads = [threading.Thread(target=bump, args=(15,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert store.get(KIND, key).metadata.annotations["n"] == "60"


# -- list ---------------------------------------------------------------------------------------


def test_list_filters_by_namespace_and_labels_and_sorts(store: Store) -> None:
    store.create(endpoint("b", "team-b", labels={"tier": "gold"}))
    store.create(endpoint("a", "team-b", labels={"tier": "silver"}))
    store.create(endpoint("z", "team-a", labels={"tier": "gold", "region": "eu"}))
    store.create(gateway("front"))
    everything = store.list(KIND)
    assert [(o.namespace, o.name) for o in everything.items] == [("team-a", "z"), ("team-b", "a"), ("team-b", "b")]
    assert everything.revision == store.revision()
    assert [o.name for o in store.list(KIND, namespace="team-b").items] == ["a", "b"]
    assert [o.name for o in store.list(KIND, selector=parse_selector("tier=gold")).items] == ["z", "b"]
    assert [o.name for o in store.list(KIND, selector=parse_selector("tier=gold,!region")).items] == ["b"]
    assert [o.name for o in store.list(KIND, selector=parse_selector("tier in (silver)")).items] == ["a"]
    assert store.list(KIND, namespace="nobody").items == []
    assert [o.name for o in store.list("InferenceGateway").items] == ["front"]


def test_namespaces_exist_while_something_is_in_them(store: Store) -> None:
    store.create(endpoint("a", "team-b"))
    store.create(secret("k", "team-a", v="1"))
    assert store.namespaces() == ["team-a", "team-b"]
    store.delete(KIND, ObjectKey("team-b", "a"))
    assert store.namespaces() == ["team-a"]


# -- delete, finalizers, dependents -------------------------------------------------------------


def test_delete_without_finalizers_removes_at_once(store: Store) -> None:
    a = store.create(endpoint("a"))
    gone = store.delete(KIND, a.key)
    assert gone.metadata.uid == a.metadata.uid
    assert int(gone.metadata.resource_version or 0) == store.revision()
    with pytest.raises(NotFound):
        store.get(KIND, a.key)
    assert not store.exists_uid(a.metadata.uid or "")
    with pytest.raises(NotFound):
        store.delete(KIND, a.key)


def test_finalizers_hold_deletion_until_removed(store: Store) -> None:
    a = store.create(endpoint("a", finalizers=["laneway.dev/drain"]))
    marked = store.delete(KIND, a.key)
    assert marked.metadata.deletion_timestamp
    assert store.get(KIND, a.key).metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    rev = store.revision()
    assert store.delete(KIND, a.key).metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    assert store.revision() == rev  # deleting twice changes nothing

    adding = marked.model_copy(deep=True)
    adding.metadata.finalizers = ["laneway.dev/drain", "laneway.dev/other"]
    with pytest.raises(Invalid, match="cannot be added"):
        store.update(adding)

    relabelled = store.update(with_labels(marked, {"still": "here"}))
    assert relabelled.metadata.deletion_timestamp == marked.metadata.deletion_timestamp

    done = relabelled.model_copy(deep=True)
    done.metadata.finalizers = []
    store.update(done)
    with pytest.raises(NotFound):
        store.get(KIND, a.key)
    assert store.events_since(rev)[-1].type == "DELETED"


def test_dependents_by_owner_uid(store: Store) -> None:
    owner = store.create(gateway("front"))
    other = store.create(gateway("back"))
    child_b = store.create(endpoint("b", owners=[owner]))
    child_a = store.create(endpoint("a", "other-ns", owners=[owner, other]))
    store.create(endpoint("c"))
    assert {o.name for o in store.dependents(owner.metadata.uid or "")} == {"a", "b"}
    assert [o.name for o in store.dependents(other.metadata.uid or "")] == ["a"]
    assert store.exists_uid(owner.metadata.uid or "")
    store.delete("InferenceGateway", owner.key)
    assert not store.exists_uid(owner.metadata.uid or "")
    # Dropping the owner reference drops the dependency.
    orphan = child_b.model_copy(deep=True)
    orphan.metadata.owner_references = []
    store.update(orphan)
    assert [o.name for o in store.dependents(owner.metadata.uid or "")] == ["a"]
    store.delete(KIND, child_a.key)
    assert store.dependents(other.metadata.uid or "") == []


def test_resource_versions_name_every_object_of_a_kind_and_its_version(store: Store) -> None:
    a = store.create(endpoint("a"))
    b = store.create(endpoint("b", "other-ns"))
    front = store.create(gateway("front"))
    a = store.update(with_url(a, "http://127.0.0.1:9501"))
    assert store.resource_versions(KIND) == {
        a.key: int(a.metadata.resource_version or ""),
        b.key: int(b.metadata.resource_version or ""),
    }
    assert store.resource_versions("InferenceGateway") == {ObjectKey("", "front"): int(front.metadata.resource_version or "")}
    store.delete(KIND, b.key)
    assert set(store.resource_versions(KIND)) == {a.key}


# -- revision stream ----------------------------------------------------------------------------


def test_events_replay_every_write_in_order(store: Store) -> None:
    start = store.revision()
    a = store.create(endpoint("a"))
    a = store.update(with_url(a, "http://127.0.0.1:9500"))
    store.create(gateway("front"))
    store.delete(KIND, a.key)
    events = store.events_since(start)
    assert [(e.type, e.object.kind, e.object.name) for e in events] == [
        ("ADDED", KIND, "a"),
        ("MODIFIED", KIND, "a"),
        ("ADDED", "InferenceGateway", "front"),
        ("DELETED", KIND, "a"),
    ]
    assert [e.revision for e in events] == list(range(start + 1, start + 5))
    assert all(e.object.metadata.resource_version == str(e.revision) for e in events)
    only = store.events_since(start, kinds=frozenset({"InferenceGateway"}))
    assert [e.object.name for e in only] == ["front"]
    assert len(store.events_since(start, limit=2)) == 2
    assert store.events_since(store.revision()) == []


def test_compacted_revision_is_gone(small_store: Store) -> None:
    for i in range(30):
        small_store.create(endpoint(f"e{i}"))
    with pytest.raises(Gone, match="list again"):
        small_store.events_since(0)
    recent = small_store.events_since(small_store.revision() - 5)
    assert [e.object.name for e in recent] == [f"e{i}" for i in range(25, 30)]


def test_wait_for_revision(store: Store) -> None:
    now = store.revision()
    assert store.wait_for_revision(now, timeout=0.01) == now  # times out, nothing new
    store.create(endpoint("a"))
    assert store.wait_for_revision(now, timeout=5) == now + 1  # already passed

    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(store.wait_for_revision(now + 1, timeout=30)))
    waiter.start()
    store.create(endpoint("b"))
    waiter.join(timeout=30)
    assert got == [now + 2]


# -- leases -------------------------------------------------------------------------------------


def test_lease_is_exclusive_until_it_expires(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    assert store.acquire_lease("manager", "one", 10)
    assert not store.acquire_lease("manager", "two", 10)
    clock.advance(9)
    assert store.acquire_lease("manager", "one", 10)  # renew: now valid until +19
    clock.advance(9)
    assert not store.acquire_lease("manager", "two", 10)
    clock.advance(2)
    assert store.acquire_lease("manager", "two", 10)  # expired: taken over
    assert not store.acquire_lease("manager", "one", 10)
    lease = store.get_lease("manager")  # type: ignore[attr-defined]
    assert lease.holder == "two" and lease.transitions == 1


def test_released_lease_is_free_at_once(store: Store) -> None:
    assert store.acquire_lease("manager", "one", 60)
    store.release_lease("manager", "two")  # not the holder: nothing happens
    assert not store.acquire_lease("manager", "two", 60)
    store.release_lease("manager", "one")
    assert store.acquire_lease("manager", "two", 60)
    assert store.acquire_lease("other", "one", 60)  # leases are independent


def test_lease_ttl_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="positive"):
        store.acquire_lease("manager", "one", 0)


# -- tokens -------------------------------------------------------------------------------------


def test_tokens(store: Store) -> None:
    assert store.find_token("ab" * 32) is None
    store.put_token(TokenRecord(token_sha256="ab" * 32, role="admin", description="first"))
    store.put_token(
        TokenRecord(token_sha256="cd" * 32, role="team", namespaces=("ml-team", "x"), created="2030-01-01T00:00:00Z")
    )
    admin = store.find_token("ab" * 32)
    assert admin is not None and admin.role == "admin" and admin.description == "first" and admin.created
    team = store.find_token("cd" * 32)
    assert team == TokenRecord(
        token_sha256="cd" * 32, role="team", namespaces=("ml-team", "x"), created="2030-01-01T00:00:00Z"
    )
    assert [t.token_sha256 for t in store.list_tokens()] == ["ab" * 32, "cd" * 32]
    assert store.delete_token("ab" * 32)  # type: ignore[attr-defined]
    assert store.find_token("ab" * 32) is None


def test_returned_objects_are_copies(store: Store) -> None:
    a = store.create(endpoint("a"))
    a.metadata.labels["mutated"] = "yes"
    assert "mutated" not in store.get(KIND, a.key).metadata.labels
    assert isinstance(store.get(KIND, a.key), ModelEndpoint)


# -- fencing ------------------------------------------------------------------------------------


def test_a_former_leaders_fenced_writes_are_refused(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    from laneway.store.fencing import FencedStore
    from laneway.store.leasing import Fence, Fenced

    assert store.acquire_lease("manager", "one", 10)
    term = store.get_lease("manager")  # type: ignore[attr-defined]
    view = FencedStore(store)  # type: ignore[arg-type]
    with pytest.raises(Fenced, match="does not lead"):
        view.create(endpoint("early"))
    view.hold(Fence("manager", "one", term.transitions))
    made = view.create(endpoint("a"))
    clock.advance(11)  # "one" paused past its lease; "two" takes over
    assert store.acquire_lease("manager", "two", 10)
    revision = store.revision()
    with pytest.raises(Fenced, match="held by two"):
        view.update(with_url(made, "http://late"))
    with pytest.raises(Fenced):
        view.delete(KIND, made.key)
    assert store.revision() == revision  # nothing was written
    assert store.get(KIND, made.key).spec.url == made.spec.url
    # "one" comes back as leader later: a new term, a new token; the old fence stays refused.
    clock.advance(11)
    assert store.acquire_lease("manager", "one", 10)
    with pytest.raises(Fenced, match="term"):
        view.update(with_url(made, "http://late"))
    view.hold(Fence("manager", "one", store.get_lease("manager").transitions))  # type: ignore[attr-defined]
    assert view.update(with_url(made, "http://now")).spec.url == "http://now"


def test_a_fence_on_an_expired_lease_is_refused(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    from laneway.store.leasing import Fence, Fenced

    assert store.acquire_lease("manager", "one", 10)
    fence = Fence("manager", "one", store.get_lease("manager").transitions)  # type: ignore[attr-defined]
    store.create(endpoint("a"), fence=fence)  # type: ignore[call-arg]
    clock.advance(10)
    with pytest.raises(Fenced, match="expired"):
        store.create(endpoint("b"), fence=fence)  # type: ignore[call-arg]
    assert store.find(KIND, endpoint("b").key) is None


# -- shared limit budgets -------------------------------------------------------------------------


def test_a_budget_never_grants_more_than_it_holds_and_refills(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    take = store.take_budget  # type: ignore[attr-defined]
    assert take("k", capacity=60, per_second=1, want=50).granted == 50
    grant = take("k", capacity=60, per_second=1, want=50)
    assert grant.granted == 10 and grant.level == 0
    assert take("k", capacity=60, per_second=1, want=5).granted == 0
    clock.advance(3)
    assert take("k", capacity=60, per_second=1, want=5).granted == 3
    store.return_budget("k", capacity=60, per_second=1, amount=2)  # type: ignore[attr-defined]
    assert take("k", capacity=60, per_second=1, want=5).granted == 2
    forced = take("k", capacity=60, per_second=1, want=7, force=True)  # tokens already spent
    assert forced.granted == 7 and forced.level == -7
    clock.advance(7)
    assert take("k", capacity=60, per_second=1, want=1).granted == 0  # the debt is waited out first
    assert take("other", capacity=60, per_second=1, want=60).granted == 60  # keys are apart


def test_budget_takers_in_threads_never_overdraw(store: Store) -> None:
    granted: list[float] = []

    def taker() -> None:
        for _ in range(20):
            granted.append(store.take_budget("k", capacity=100, per_second=1e-9, want=3).granted)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(granted) == pytest.approx(100)
