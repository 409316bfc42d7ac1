"""The ModelDeployment controller against the in-memory store."""

import asyncio

from laneway.api.conditions import find_condition, set_condition
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.deployment import DeploymentController
from laneway.store.memory import MemoryStore

from .placement_builders import cluster, deployment, gpu_class

BIG = 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("141Gi")) >= 0'


def setup(replicas=2, nodes=4):
    store = MemoryStore()
    store.create(gpu_class("h100"))
    store.create(cluster("a", [("p", "h100", nodes)]))
    store.create(cluster("b", [("p", "h100", nodes)]))
    d = store.create(deployment("llama", replicas=replicas))
    return store, DeploymentController(ControlContext(store=store)), d.key


def reconcile(ctl, key):
    return asyncio.run(ctl.reconcile(key))


def replicas(store):
    return {r.name: r for r in store.list("ModelReplica").items}


def test_composes_owned_replicas_and_conditions():
    store, ctl, key = setup()
    reconcile(ctl, key)
    rs = replicas(store)
    assert sorted(rs) == ["llama-0", "llama-1"]
    assert {r.spec.cluster_name for r in rs.values()} == {"a", "b"}
    d = store.get("ModelDeployment", key)
    assert rs["llama-0"].metadata.owner_references[0].uid == d.metadata.uid
    assert rs["llama-1"].metadata.labels["laneway.dev/replica-index"] == "1"
    sched = find_condition(d.status.conditions, "ReplicasScheduled")
    ready = find_condition(d.status.conditions, "ReplicasReady")
    assert (sched.status, sched.reason) == ("True", "Scheduled")
    assert (ready.status, ready.reason) == ("False", "Starting")
    assert (d.status.replicas.total, d.status.replicas.ready) == (2, 0)


def test_idempotent_and_counts_ready():
    store, ctl, key = setup()
    reconcile(ctl, key)
    r0 = replicas(store)["llama-0"]
    store.update_status(r0.model_copy(update={"status": r0.status.model_copy(update={"conditions": set_condition([], type="Ready", status="True", reason="Serving")})}))
    reconcile(ctl, key)
    revision = store.revision()
    reconcile(ctl, key)
    assert store.revision() == revision  # nothing changed the second time
    d = store.get("ModelDeployment", key)
    assert d.status.replicas.ready == 1


def test_scale_down_deletes_and_bad_edit_keeps():
    store, ctl, key = setup(replicas=2)
    reconcile(ctl, key)
    d = store.get("ModelDeployment", key)
    store.update(d.model_copy(update={"spec": d.spec.model_copy(update={"replicas": 1})}))
    reconcile(ctl, key)
    assert sorted(replicas(store)) == ["llama-0"]
    bad = deployment("llama", replicas=3, selectors=["device.driver =="])
    d = store.get("ModelDeployment", key)
    store.update(d.model_copy(update={"spec": bad.spec}))
    reconcile(ctl, key)
    assert sorted(replicas(store)) == ["llama-0"]
    cond = find_condition(store.get("ModelDeployment", key).status.conditions, "ReplicasScheduled")
    assert cond.reason == "InvalidNodeSelector"


def test_short_placement_and_watches():
    store, ctl, key = setup(replicas=3, nodes=1)
    d = store.get("ModelDeployment", key)
    store.update(d.model_copy(update={"spec": deployment("llama", replicas=3, selectors=[BIG]).spec}))
    reconcile(ctl, key)
    d = store.get("ModelDeployment", key)
    assert find_condition(d.status.conditions, "ReplicasScheduled").reason == "NoMatchingDevices"
    assert find_condition(d.status.conditions, "ReplicasReady").reason == "Scheduling"
    store.create(gpu_class("h200", memory="141Gi"))
    store.create(cluster("c", [("p", "h200", 1)]))
    assert ctl.watches["InferenceCluster"](store.get("InferenceCluster", ObjectKey("", "c"))) == [key]
    reconcile(ctl, key)
    d = store.get("ModelDeployment", key)
    assert [r.spec.cluster_name for r in replicas(store).values()] == ["c"]
    assert find_condition(d.status.conditions, "ReplicasScheduled").reason == "InsufficientCapacity"
    r = next(iter(replicas(store).values()))
    assert ctl.watches["ModelReplica"](r) == [key]
