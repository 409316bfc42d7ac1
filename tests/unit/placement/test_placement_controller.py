"""The ModelDeployment controller against the in-memory store."""

import asyncio

from laneway.api.conditions import find_condition, set_condition
from laneway.api.kinds.deployment import ModelCacheRef
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.deployment import SHORT_RECHECK_SECONDS, DeploymentController
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
    result = reconcile(ctl, key)
    assert result.requeue_after is None, "a fully placed deployment waits for events only"
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
    before = replicas(store)["llama-0"]
    reconcile(ctl, key)
    assert sorted(replicas(store)) == ["llama-0"]
    cond = find_condition(store.get("ModelDeployment", key).status.conditions, "ReplicasScheduled")
    assert cond.reason == "InvalidNodeSelector"
    after = replicas(store)["llama-0"]
    assert after.metadata.resource_version == before.metadata.resource_version, "the broken template is not rolled onto it"


def test_short_placement_and_watches():
    store, ctl, key = setup(replicas=3, nodes=1)
    d = store.get("ModelDeployment", key)
    store.update(d.model_copy(update={"spec": deployment("llama", replicas=3, selectors=[BIG]).spec}))
    result = reconcile(ctl, key)
    d = store.get("ModelDeployment", key)
    assert find_condition(d.status.conditions, "ReplicasScheduled").reason == "NoMatchingDevices"
    assert result.requeue_after == SHORT_RECHECK_SECONDS, "a short deployment looks again even if no wake-up comes"
    assert find_condition(d.status.conditions, "ReplicasReady").reason == "Scheduling"
    store.create(gpu_class("h200", memory="141Gi"))
    store.create(cluster("c", [("p", "h200", 1)]))
    assert ctl.watches["InferenceCluster"](store.get("InferenceCluster", ObjectKey("", "c"))) == [key]
    reconcile(ctl, key)
    d = store.get("ModelDeployment", key)
    assert [r.spec.cluster_name for r in replicas(store).values()] == ["c"]
    assert find_condition(d.status.conditions, "ReplicasScheduled").reason == "InsufficientCapacity"
    assert reconcile(ctl, key).requeue_after == SHORT_RECHECK_SECONDS
    r = next(iter(replicas(store).values()))
    assert ctl.watches["ModelReplica"](r) == [key]


def test_placement_change_is_recorded_in_status_and_log(caplog):
    store, ctl, key = setup(replicas=2)
    ctl.ctx.clock = lambda: 1_700_000_000.0
    with caplog.at_level("INFO", logger="laneway.control.deployment"):
        reconcile(ctl, key)
    change = store.get("ModelDeployment", key).wire()["status"]["lastPlacementChange"]
    assert change == {"time": "2023-11-14T22:13:20Z", "message": "created llama-0 on a; created llama-1 on b"}
    assert "placement of default/llama changed: created llama-0 on a; created llama-1 on b" in caplog.text
    revision = store.revision()
    ctl.ctx.clock = lambda: 1_700_000_600.0
    reconcile(ctl, key)
    assert store.revision() == revision, "no change, no write: the record keeps the last change"
    d = store.get("ModelDeployment", key)
    store.update(d.model_copy(update={"spec": d.spec.model_copy(update={"replicas": 1})}))
    reconcile(ctl, key)
    change = store.get("ModelDeployment", key).wire()["status"]["lastPlacementChange"]
    assert change == {"time": "2023-11-14T22:23:20Z", "message": "deleted llama-1 from b"}


def test_cache_gate_closes_clusters_but_keeps_running_replicas():
    """A modelCacheRef edit to a cache that does not exist is a bad edit: it places nothing new
    and tears nothing down."""
    store, ctl, key = setup(replicas=2)
    reconcile(ctl, key)
    assert sorted(replicas(store)) == ["llama-0", "llama-1"]
    d = store.get("ModelDeployment", key)
    spec = d.spec.model_copy(deep=True)
    spec.replicas = 3
    spec.template.spec.model_cache_ref = ModelCacheRef(name="nope")
    store.update(d.model_copy(update={"spec": spec}))
    reconcile(ctl, key)
    assert sorted(replicas(store)) == ["llama-0", "llama-1"]
    cond = find_condition(store.get("ModelDeployment", key).status.conditions, "ReplicasScheduled")
    assert (cond.status, cond.reason) == ("False", "NoClusters")
    assert "ModelCache 'nope' is not staged here" in cond.message and "create it" in cond.message
