"""The autoscaler controller with an in-memory store, a stand-in gateway and a hand-driven clock:
its memory survives a restart through the deployment's status, and its own writes cannot
make it scrape in a busy loop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelService
from laneway.api.meta import Condition, ObjectKey
from laneway.autoscale.demand import ServiceLoad
from laneway.control.autoscaler import AutoscalerController
from laneway.control.base import ControlContext
from laneway.store.memory import MemoryStore

KEY = ObjectKey("ml", "chat")


class Gateway:
    """What the gateway's /metrics would say: `load` requests in flight for ml/chat."""

    def __init__(self) -> None:
        self.load = 0.0
        self.reads = 0

    async def services(self) -> Mapping[ObjectKey, ServiceLoad] | None:
        self.reads += 1
        return {KEY: ServiceLoad(in_flight=self.load)}


class NoEngines:
    async def engines(self, urls):  # type: ignore[no-untyped-def]
        return None


def _store() -> MemoryStore:
    store = MemoryStore()
    store.create(InferenceClass.model_validate(
        {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 16}]}}))
    cluster = store.create(InferenceCluster.model_validate(
        {"metadata": {"name": "local"}, "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": [{"name": "p", "className": "cpu", "nodeCount": 8}]}}))
    status = cluster.status.model_copy(update={
        "conditions": [Condition(type="Ready", status="True", reason="Ready")],
        "gateway": cluster.status.gateway.model_copy(update={"address": "http://127.0.0.1:1"}),
    })
    store.update_status(cluster.model_copy(update={"status": status}))
    container = {"name": "engine", "image": "sim", "command": ["laneway", "engine", "sim"]}
    store.create(ModelDeployment.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {
            "replicas": 1,
            "autoscaling": {"minReplicas": 0, "maxReplicas": 8, "targetInFlight": 2, "scaleToZeroAfter": "10m", "scaleDownStabilization": "60s"},
            "template": {"metadata": {"labels": {"app": "chat"}}, "spec": {"engines": [{"name": "main", "members": [{
                "nodeSelector": {"devices": [{"name": "cpu", "selectors": [{"cel": "true"}]}]},
                "template": {"spec": {"containers": [container]}}}]}]}},
        },
    }))
    store.create(ModelService.model_validate({"metadata": {"name": "chat", "namespace": "ml"},
                                              "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "chat"}}}]}}))
    return store


def _replicas(store: MemoryStore) -> int:
    d = store.get("ModelDeployment", KEY)
    assert isinstance(d, ModelDeployment)
    return d.spec.replicas


def test_a_restarted_autoscaler_keeps_the_scale_down_window() -> None:
    store, gateway, clock = _store(), Gateway(), [1000.0]

    def controller() -> AutoscalerController:
        return AutoscalerController(ControlContext(store=store, clock=lambda: clock[0]), gateway=gateway, engines=NoEngines())

    first = controller()
    gateway.load = 8
    asyncio.run(first.reconcile(KEY))
    assert _replicas(store) == 4
    gateway.load = 0
    clock[0] += 10
    asyncio.run(first.reconcile(KEY))
    assert _replicas(store) == 4, "a lull inside scaleDownStabilization keeps the replicas"

    clock[0] += 10
    restarted = controller()  # a new process: nothing in memory but what the status says
    asyncio.run(restarted.reconcile(KEY))
    assert _replicas(store) == 4, "the window goes on after a restart instead of dropping replicas at once"
    clock[0] += 45
    asyncio.run(restarted.reconcile(KEY))
    assert _replicas(store) == 1, "and ends when it would have without the restart"


def test_reconciles_sooner_than_the_interval_do_not_scrape_again() -> None:
    store, gateway, clock = _store(), Gateway(), [1000.0]
    scaler = AutoscalerController(ControlContext(store=store, clock=lambda: clock[0]), gateway=gateway, engines=NoEngines(), interval=1.0)
    gateway.load = 3
    first = asyncio.run(scaler.reconcile(KEY))
    assert gateway.reads == 1 and first.requeue_after == 1.0
    clock[0] += 0.25
    again = asyncio.run(scaler.reconcile(KEY))  # queued by its own status write
    assert gateway.reads == 1 and again.requeue_after == 0.75
    clock[0] += 0.75
    asyncio.run(scaler.reconcile(KEY))
    assert gateway.reads == 2


def test_an_idle_deployment_does_not_rewrite_its_status_every_tick() -> None:
    store, gateway, clock = _store(), Gateway(), [1000.0]
    scaler = AutoscalerController(ControlContext(store=store, clock=lambda: clock[0]), gateway=gateway, engines=NoEngines())
    for _ in range(3):
        clock[0] += 1
        asyncio.run(scaler.reconcile(KEY))
    revision = store.revision()
    for _ in range(5):
        clock[0] += 1
        asyncio.run(scaler.reconcile(KEY))
    assert store.revision() == revision, "nothing changed, so nothing is written"
    d = store.get("ModelDeployment", KEY)
    assert d.status.wire()["autoscaling"]["reason"] == "Idle"


def test_capacity_not_demand_is_named_as_the_limit() -> None:
    store, gateway, clock = _store(), Gateway(), [1000.0]
    cluster = store.get("InferenceCluster", ObjectKey("", "local"))
    assert isinstance(cluster, InferenceCluster)
    cluster.spec.node_pools[0].node_count = 2  # room for two replicas (whole-node accounting)
    store.update(cluster)
    scaler = AutoscalerController(ControlContext(store=store, clock=lambda: clock[0]), gateway=gateway, engines=NoEngines())
    gateway.load = 12
    asyncio.run(scaler.reconcile(KEY))
    d = store.get("ModelDeployment", KEY)
    assert isinstance(d, ModelDeployment)
    assert d.spec.replicas == 2
    limited = next(c for c in d.status.conditions if c.type == "ScalingLimited")
    assert (limited.status, limited.reason) == ("True", "CapacityLimited")
    assert "wants 6 replicas but placement fits only 2" in limited.message
