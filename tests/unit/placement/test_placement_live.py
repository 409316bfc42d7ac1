"""The live loop: which events wake which deployments, and a batched pass over one snapshot."""

from __future__ import annotations

import asyncio

from laneway.api.conditions import find_condition
from laneway.api.meta import Condition, ObjectKey
from laneway.control.base import BatchController, ControlContext
from laneway.control.deployment import BatchedDeploymentController, DeploymentController
from laneway.store.memory import MemoryStore

from .placement_builders import cluster, deployment, gpu_class


def fleet(nodes: int = 1) -> MemoryStore:
    store = MemoryStore()
    store.create(gpu_class("h100"))
    store.create(cluster("a", [("p", "h100", nodes)]))
    return store


def scheduled(store: MemoryStore, name: str) -> str:
    d = store.get("ModelDeployment", ObjectKey("default", name))
    c = find_condition(d.status.conditions, "ReplicasScheduled")
    return f"{c.status} {c.reason}" if c else "none"


def test_batched_controller_is_a_batch_controller_and_the_plain_one_is_not() -> None:
    ctx = ControlContext(store=MemoryStore())
    assert isinstance(BatchedDeploymentController(ctx), BatchController)
    assert not isinstance(DeploymentController(ctx), BatchController)


def test_one_pass_plans_every_key_over_one_snapshot() -> None:
    store = fleet(nodes=3)
    keys = [store.create(deployment(n)).key for n in ("x", "y", "z", "w")]
    ctl = BatchedDeploymentController(ControlContext(store=store))
    asyncio.run(ctl.reconcile_batch(keys))
    placed = sorted(r.metadata.labels["laneway.dev/deployment"] for r in store.list("ModelReplica").items)
    assert placed == ["w", "x", "y"], "three nodes: the first three in (namespace, name) order, never four"
    assert scheduled(store, "z").startswith("False InsufficientCapacity")
    assert ctl.wakeups.waiting == {ObjectKey("default", "z")}


def test_a_replica_going_away_wakes_the_waiting_deployments() -> None:
    store = fleet(nodes=1)
    big, waiting = store.create(deployment("big")).key, store.create(deployment("waiting")).key
    ctl = BatchedDeploymentController(ControlContext(store=store))
    asyncio.run(ctl.reconcile_batch([big, waiting]))
    [r] = store.list("ModelReplica").items
    assert ctl.wakeups.replica_changed(r) == [big], "an ordinary replica change wakes only its owner"
    gone = r.model_copy(update={"metadata": r.metadata.model_copy(update={"deletion_timestamp": "2026-01-01T00:00:00Z"})})
    assert set(ctl.wakeups.replica_changed(gone)) == {big, waiting}


def test_cluster_events_wake_only_when_placement_reads_a_change() -> None:
    store = fleet(nodes=1)
    store.create(cluster("b", [("p", "h100", 0)]))
    key = store.create(deployment("on-a")).key
    ctl = BatchedDeploymentController(ControlContext(store=store))
    for name in ("a", "b"):
        ctl.wakeups.cluster_changed(store.get("InferenceCluster", ObjectKey("", name)))
    asyncio.run(ctl.reconcile_batch([key]))
    a = store.get("InferenceCluster", ObjectKey("", "a"))
    assert ctl.wakeups.cluster_changed(a) == [], "nothing placement reads changed"
    recounted = a.model_copy(update={"status": a.status.model_copy(update={"gpu_pools": []})})
    assert ctl.wakeups.cluster_changed(recounted) == []
    assert ctl.wakeups.cluster_changed(cluster("a", [("p", "h100", 1)], taints=[{"key": "k", "effect": "NoExecute"}])) == [key]
    assert ctl.wakeups.cluster_changed(cluster("b", [("p", "h100", 0)], labels={"x": "y"})) == [], "none waits, none runs on b"
    gone = cluster("b", [("p", "h100", 0)], labels={"x": "y"})
    gone.metadata.deletion_timestamp = "2027-01-01T00:00:00Z"
    assert ctl.wakeups.cluster_changed(gone) == []


def test_lost_cluster_replicas_are_replaced_by_the_controller() -> None:
    store = MemoryStore()
    store.create(gpu_class("h100"))
    a = store.create(cluster("a", [("p", "h100", 1)]))
    store.create(cluster("b", [("p", "h100", 1)]))
    key = store.create(deployment("m")).key
    now = [1_800_000_000.0]
    ctl = BatchedDeploymentController(ControlContext(store=store, clock=lambda: now[0]))
    asyncio.run(ctl.reconcile_batch([key]))
    [first] = store.list("ModelReplica").items
    home = first.spec.cluster_name
    c = store.get("InferenceCluster", ObjectKey("", home))
    down = Condition(type="Ready", status="False", reason="DriverUnavailable", last_transition_time="2027-01-15T08:00:00Z")
    c.spec.not_ready_grace_period = "30s"
    c = store.update(c)
    c = store.update_status(c.model_copy(update={"status": c.status.model_copy(update={"conditions": [down]})}))
    assert ctl.watches["InferenceCluster"](c) == [key], "the manager dispatches the change; it wakes the deployment"
    import datetime

    went = datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.UTC).timestamp()
    now[0] = went + 10
    results = asyncio.run(ctl.reconcile_batch([key]))
    assert [r.name for r in store.list("ModelReplica").items] == [first.name], "within the grace period nothing moves"
    assert 20 <= results[key].requeue_after <= 21, "it looks again when the grace period ends"
    now[0] = went + 31
    asyncio.run(ctl.reconcile_batch([key]))
    rs = {r.name: r for r in store.list("ModelReplica").items}
    [new] = [r for n, r in rs.items() if n != first.name]
    assert new.spec.cluster_name != home and new.metadata.annotations["laneway.dev/replaces"] == first.name
    assert first.name in rs, "the stranded replica stays until its replacement is Ready"
    new = store.update_status(new.model_copy(update={"status": new.status.model_copy(update={"conditions": [Condition(type="Ready", status="True", reason="T")]})}))
    assert ctl.watches["ModelReplica"](new) == [key]
    asyncio.run(ctl.reconcile_batch([key]))
    assert [r.name for r in store.list("ModelReplica").items] == [new.name]
    assert a is not None
