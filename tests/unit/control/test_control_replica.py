"""The ModelReplica and InferenceCluster controllers, against the in-memory store and a fake driver."""

from __future__ import annotations

import asyncio
from pathlib import Path

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.control.replica import FINALIZER, ReplicaController
from laneway.drivers.base import MemberObservation, ReplicaObservation, ServingAddress
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore


class FakeDriver:
    def __init__(self) -> None:
        self.ready = False
        self.applied: list[str] = []
        self.torn_down: list[str] = []

    async def apply(self, replica, cluster) -> None:
        self.applied.append(replica.name)

    async def observe(self, replica) -> ReplicaObservation:
        member = MemberObservation(id="main-0-standalone-0", engine="main", phase="Ready" if self.ready else "Starting", ready=self.ready)
        address = ServingAddress(engine="main", copy=0, url="http://127.0.0.1:9999", ready=self.ready, models=("sim-chat",))
        reason = "EnginesReady" if self.ready else "EnginesStarting"
        return ReplicaObservation(self.ready, reason, "", (member,), (address,))

    async def teardown(self, replica) -> None:
        self.torn_down.append(replica.name)

    async def healthy(self, cluster) -> tuple[bool, str]:
        return True, "fake"

    async def close(self) -> None:
        pass


def _setup(tmp_path: Path) -> tuple[MemoryStore, FakeDriver, DriverSet, ControlContext]:
    store = MemoryStore()
    fake = FakeDriver()
    drivers = DriverSet(logs_dir=tmp_path)
    drivers._drivers["Local"] = fake
    ctx = ControlContext(store=store, gateway_address="http://127.0.0.1:8471", drivers=drivers)
    store.create(
        InferenceClass.model_validate(
            {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 4}]}}
        )
    )
    store.create(
        InferenceCluster.model_validate(
            {
                "metadata": {"name": "local", "labels": {"region": "eu-west"}},
                "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": [{"name": "p", "className": "cpu"}]},
            }
        )
    )
    store.create(
        ModelReplica.model_validate(
            {
                "metadata": {"name": "m-0", "namespace": "ml", "labels": {"laneway.dev/deployment": "m"}},
                "spec": {
                    "clusterName": "local",
                    "engines": [
                        {
                            "name": "main",
                            "members": [
                                {
                                    "nodeSelector": {"devices": [{"name": "cpu", "selectors": [{"cel": "true"}]}]},
                                    "template": {"spec": {"containers": [{"name": "engine", "image": "sim"}]}},
                                }
                            ],
                        }
                    ],
                },
            }
        )
    )
    return store, fake, drivers, ctx


def test_endpoint_exists_only_while_the_replica_is_ready(tmp_path: Path) -> None:
    store, fake, drivers, ctx = _setup(tmp_path)
    ctl = ReplicaController(ctx, drivers)
    key = ObjectKey("ml", "m-0")

    asyncio.run(ctl.reconcile(key))
    replica = store.get("ModelReplica", key)
    assert FINALIZER in replica.metadata.finalizers
    (ready,) = [c for c in replica.status.conditions if c.type == "Ready"]
    assert (ready.status, ready.reason) == ("False", "EnginesStarting")
    assert store.list("ModelEndpoint", namespace="ml").items == []

    fake.ready = True
    asyncio.run(ctl.reconcile(key))
    (endpoint,) = store.list("ModelEndpoint", namespace="ml").items
    assert isinstance(endpoint, ModelEndpoint)
    assert endpoint.name == "m-0" and endpoint.spec.url == "http://127.0.0.1:9999"
    assert endpoint.spec.model == "sim-chat", "requests reach the engine under the one name it serves"
    assert endpoint.metadata.labels["laneway.dev/deployment"] == "m"
    assert endpoint.metadata.labels["laneway.dev/cluster"] == "local"
    assert endpoint.metadata.labels["region"] == "eu-west"
    assert endpoint.metadata.owner_references[0].uid == replica.metadata.uid
    assert store.get("ModelReplica", key).status.phase == "Ready"

    revision = store.revision()
    asyncio.run(ctl.reconcile(key))
    assert store.revision() == revision, "reconciling a steady replica twice writes nothing"

    fake.ready = False
    asyncio.run(ctl.reconcile(key))
    assert store.list("ModelEndpoint", namespace="ml").items == []


class FakeEngines:
    """What the engines report in flight (running + waiting); None: they publish nothing."""

    def __init__(self) -> None:
        self.busy: float | None = 0.0
        self.asked: list[list[str]] = []

    async def engines(self, urls):
        from laneway.autoscale.demand import EngineLoad

        self.asked.append(list(urls))
        return None if self.busy is None else EngineLoad(running=self.busy, waiting=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _draining_setup(tmp_path: Path):
    store, fake, drivers, ctx = _setup(tmp_path)
    clock = Clock()
    ctx = ControlContext(store=store, gateway_address=ctx.gateway_address, drivers=drivers, clock=clock)
    engines = FakeEngines()
    ctl = ReplicaController(ctx, drivers, engines=engines)
    fake.ready = True
    asyncio.run(ctl.reconcile(ObjectKey("ml", "m-0")))
    assert store.list("ModelEndpoint", namespace="ml").items, "serving before the drain"
    return store, fake, ctl, clock, engines


def test_deletion_drains_then_stops_engines_before_the_replica_goes(tmp_path: Path) -> None:
    store, fake, ctl, clock, engines = _draining_setup(tmp_path)
    key = ObjectKey("ml", "m-0")
    engines.busy = 2
    store.delete("ModelReplica", key)
    assert store.get("ModelReplica", key).metadata.deletion_timestamp
    asyncio.run(ctl.reconcile(key))
    assert store.list("ModelEndpoint").items == [], "it leaves every routing table first"
    assert fake.torn_down == [], "requests in flight still run"
    replica = store.get("ModelReplica", key)
    assert replica.status.phase == "Draining" and replica.status.draining_since == clock.now
    clock.now += 5
    asyncio.run(ctl.reconcile(key))
    assert fake.torn_down == [] and engines.asked[-1] == ["http://127.0.0.1:9999"]
    engines.busy = 0
    asyncio.run(ctl.reconcile(key))
    assert fake.torn_down == ["m-0"]
    assert store.list("ModelReplica").items == []
    assert store.list("ModelEndpoint").items == []


def test_a_drain_ends_at_its_timeout_even_when_requests_remain(tmp_path: Path) -> None:
    store, fake, ctl, clock, engines = _draining_setup(tmp_path)
    key = ObjectKey("ml", "m-0")
    engines.busy = 7
    store.delete("ModelReplica", key)
    asyncio.run(ctl.reconcile(key))
    clock.now += 29
    asyncio.run(ctl.reconcile(key))
    assert fake.torn_down == []
    clock.now += 2
    asyncio.run(ctl.reconcile(key))
    assert fake.torn_down == ["m-0"], "the default drainTimeout is 30s"


def test_a_new_spec_is_applied_only_after_a_drain(tmp_path: Path) -> None:
    store, fake, ctl, clock, engines = _draining_setup(tmp_path)
    key = ObjectKey("ml", "m-0")
    replica = store.get("ModelReplica", key)
    assert replica.status.applied_generation == replica.metadata.generation
    replica.spec.engines[0].members[0].template.spec.containers[0].args = ["--changed"]
    store.update(replica)
    applied = len(fake.applied)
    engines.busy = 1
    asyncio.run(ctl.reconcile(key))
    assert len(fake.applied) == applied, "the engines are not restarted while requests run"
    assert store.list("ModelEndpoint").items == []
    assert store.get("ModelReplica", key).status.phase == "Draining"
    clock.now += 2
    engines.busy = 0
    asyncio.run(ctl.reconcile(key))
    assert len(fake.applied) == applied + 1
    replica = store.get("ModelReplica", key)
    assert replica.status.phase == "Ready" and replica.status.draining_since is None
    assert replica.status.applied_generation == replica.metadata.generation


def test_endpoints_carry_the_engine_they_serve(tmp_path: Path) -> None:
    store, _fake, _ctl, _clock, _engines = _draining_setup(tmp_path)
    (endpoint,) = store.list("ModelEndpoint", namespace="ml").items
    assert endpoint.metadata.labels["laneway.dev/engine"] == "main"


def test_replica_on_a_missing_cluster_says_so(tmp_path: Path) -> None:
    store, _fake, drivers, ctx = _setup(tmp_path)
    store.delete("InferenceCluster", ObjectKey("", "local"))
    asyncio.run(ReplicaController(ctx, drivers).reconcile(ObjectKey("ml", "m-0")))
    (ready,) = store.get("ModelReplica", ObjectKey("ml", "m-0")).status.conditions
    assert ready.reason == "ClusterNotFound" and "local" in ready.message


def test_cluster_status_publishes_gateway_and_capacity(tmp_path: Path) -> None:
    store, _fake, drivers, ctx = _setup(tmp_path)
    asyncio.run(ClusterController(ctx, drivers).reconcile(ObjectKey("", "local")))
    cluster = store.get("InferenceCluster", ObjectKey("", "local"))
    assert isinstance(cluster, InferenceCluster)
    assert cluster.status.gateway.address == "http://127.0.0.1:8471"
    conditions = {c.type: c.status for c in cluster.status.conditions}
    assert conditions == {"BackendReady": "True", "Ready": "True"}
    assert [(p.name, p.nodes) for p in cluster.status.gpu_pools] == [("p", 1)]


def test_cluster_naming_a_missing_class_is_not_ready(tmp_path: Path) -> None:
    store, _fake, drivers, ctx = _setup(tmp_path)
    store.delete("InferenceClass", ObjectKey("", "cpu"))
    asyncio.run(ClusterController(ctx, drivers).reconcile(ObjectKey("", "local")))
    cluster = store.get("InferenceCluster", ObjectKey("", "local"))
    ready = next(c for c in cluster.status.conditions if c.type == "Ready")
    assert ready.status == "False" and ready.reason == "ClassNotFound" and "cpu" in ready.message


def test_a_cluster_event_queues_the_replicas_on_it_from_the_index(tmp_path: Path) -> None:
    """Replica events index replicas by cluster, so a cluster event finds its replicas without
    listing every replica of the fleet; a replica that is gone leaves the index."""
    from laneway.placement.compose import compose_replica
    from laneway.placement.model import EnginePlacement, MemberPlacement, ReplicaPlacement
    from laneway.testing.simfleet import model_deployment, simulated_cluster

    _store, _, drivers, ctx = _setup(tmp_path)
    ctl = ReplicaController(ctx, drivers)
    d = model_deployment("m")
    on = {
        name: compose_replica(d, ReplicaPlacement(i, name, (EnginePlacement("main", "p", (MemberPlacement("Standalone", "p"),)),), name=f"m-{i}"))
        for i, name in enumerate(("east", "west"))
    }
    for r in on.values():
        assert ctl.watches["ModelReplica"](r) == []
    east = simulated_cluster("east", [("p", "h100", 1)])
    assert ctl.watches["InferenceCluster"](east) == [on["east"].key]
    gone = on["east"].model_copy(update={"metadata": on["east"].metadata.model_copy(update={"deletion_timestamp": "2027-01-01T00:00:00Z"})})
    ctl.watches["ModelReplica"](gone)
    assert ctl.watches["InferenceCluster"](east) == []
    assert ctl.watches["InferenceCluster"](simulated_cluster("west", [("p", "h100", 1)])) == [on["west"].key]


def test_an_engine_that_exits_takes_its_endpoints_out_at_once(tmp_path: Path) -> None:
    store, fake, ctl, _clock, _engines = _draining_setup(tmp_path)
    heard: list = []
    fake.on_exit = lambda callback: heard.append(callback)  # an ExitReporter
    asyncio.run(ctl.reconcile(ObjectKey("ml", "m-0")))
    assert heard, "the controller listens to drivers that report exits"
    assert store.list("ModelEndpoint", namespace="ml").items
    heard[-1]("ml", "m-0")  # the driver: an engine of ml/m-0 exited
    assert store.list("ModelEndpoint", namespace="ml").items == [], "no waiting for the next look"


def test_status_endpoint_is_the_url_while_ready_and_cleared_after(tmp_path: Path) -> None:
    """`get mr -o wide` reads ENDPOINT from status.endpoint: it showed `-` for every Ready replica."""
    store, fake, drivers, ctx = _setup(tmp_path)
    ctl = ReplicaController(ctx, drivers)
    key = ObjectKey("ml", "m-0")
    asyncio.run(ctl.reconcile(key))
    assert store.get("ModelReplica", key).status.endpoint is None, "starting: not an endpoint yet"
    fake.ready = True
    asyncio.run(ctl.reconcile(key))
    assert store.get("ModelReplica", key).status.endpoint == "http://127.0.0.1:9999"
    fake.ready = False
    asyncio.run(ctl.reconcile(key))
    assert store.get("ModelReplica", key).status.endpoint is None, "not routable: no endpoint shown"


def test_serving_urls_lists_the_ready_addresses_of_a_ready_replica() -> None:
    from laneway.control.replica import serving_urls

    def address(copy: int, ready: bool) -> ServingAddress:
        return ServingAddress(engine="main", copy=copy, url=f"http://127.0.0.1:{9000 + copy}", ready=ready)

    both = ReplicaObservation(True, "EnginesReady", "", (), (address(0, True), address(1, True)))
    assert serving_urls(both) == "http://127.0.0.1:9000,http://127.0.0.1:9001"
    one = ReplicaObservation(True, "EnginesReady", "", (), (address(0, True), address(1, False)))
    assert serving_urls(one) == "http://127.0.0.1:9000"
    assert serving_urls(ReplicaObservation(False, "EnginesStarting", "", (), (address(0, True),))) is None


class EndpointListCounter(MemoryStore):
    """Counts every listing of ModelEndpoints: a replica's reconcile reads its own endpoints
    through its owner references, never a listing of its namespace's endpoints."""

    endpoint_lists = 0

    def list(self, kind, **kwargs):  # type: ignore[no-untyped-def,override]
        if (kind if isinstance(kind, str) else kind.KIND) == "ModelEndpoint":
            self.endpoint_lists += 1
        return super().list(kind, **kwargs)


def test_a_replica_finds_its_endpoints_by_owner_and_replaces_one_an_earlier_replica_left(tmp_path: Path) -> None:
    store, fake, drivers, ctx = _setup(tmp_path)
    counting = EndpointListCounter()
    for kind in ("InferenceClass", "InferenceCluster", "ModelReplica"):
        for obj in store.list(kind).items:
            counting.create(obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"uid": None, "resource_version": None})}))
    ctx.store = counting
    key = ObjectKey("ml", "m-0")
    # An endpoint of the same name that an earlier replica m-0 left behind (its owner gone),
    # and an endpoint of another replica in the same namespace that must be left alone.
    counting.create(ModelEndpoint.model_validate({
        "metadata": {"name": "m-0", "namespace": "ml", "labels": {"laneway.dev/replica": "m-0"},
                     "ownerReferences": [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": "m-0", "uid": "earlier-uid"}]},
        "spec": {"url": "http://127.0.0.1:1111"}}))
    counting.create(ModelEndpoint.model_validate({
        "metadata": {"name": "other-0", "namespace": "ml", "labels": {"laneway.dev/replica": "other-0"}}, "spec": {"url": "http://127.0.0.1:2222"}}))
    ctl = ReplicaController(ctx, drivers)
    fake.ready = True
    asyncio.run(ctl.reconcile(key))
    replica = counting.get("ModelReplica", key)
    endpoints = {e.name: e for e in counting.list("ModelEndpoint", namespace="ml").items}
    assert endpoints["m-0"].spec.url == "http://127.0.0.1:9999"
    assert [r.uid for r in endpoints["m-0"].metadata.owner_references] == [replica.metadata.uid]
    assert endpoints["other-0"].spec.url == "http://127.0.0.1:2222"
    fake.ready = False
    counting.endpoint_lists = 0
    asyncio.run(ctl.reconcile(key))
    assert sorted(e.name for e in counting.list("ModelEndpoint", namespace="ml").items) == ["other-0"]
    assert counting.endpoint_lists == 1, "only this test's own listing read the namespace's endpoints"
