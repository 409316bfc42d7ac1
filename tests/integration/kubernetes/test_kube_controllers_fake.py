"""The ModelReplica and InferenceCluster controllers driving a fake cluster through DriverSet:
the replica's Ready condition and endpoint follow the cluster, and deletion cleans it up."""

from __future__ import annotations

import asyncio

from kube_fleet import Fleet

from laneway.api.kinds import InferenceCluster, ModelEndpoint, ModelReplica
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.control.replica import DRAIN_SETTLE, ReplicaController
from laneway.drivers.registry import DriverSet

NS = "laneway-ml-team"


def test_replica_lifecycle_through_the_controllers(fleet: Fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        drivers = DriverSet(logs_dir=tmp_path, store=fleet.store)
        now = [1_000_000.0]
        ctx = ControlContext(store=fleet.store, drivers=drivers, clock=lambda: now[0])
        clusters, replicas = ClusterController(ctx, drivers), ReplicaController(ctx, drivers)
        try:
            await clusters.reconcile(ObjectKey("", "gpu-eu"))
            eu = fleet.store.get("InferenceCluster", ObjectKey("", "gpu-eu"))
            assert isinstance(eu, InferenceCluster)
            assert eu.status.gateway.address == "http://10.0.0.10"
            assert {c.type: c.status for c in eu.status.conditions}["Ready"] == "True"

            replica = next(r for r in fleet.replicas("qwen-7b") if r.spec.cluster_name == "gpu-eu")
            await replicas.reconcile(replica.key)
            stored = fleet.store.get("ModelReplica", replica.key)
            assert isinstance(stored, ModelReplica)
            ready = {c.type: c for c in stored.status.conditions}["Ready"]
            assert ready.status == "False" and ready.reason == "EnginesStarting"

            fake = fleet.clusters["gpu-eu"]
            dep = fake.get("apps/v1", "deployments", NS, f"{replica.name}-vllm")
            assert dep is not None
            fake.set_status("apps/v1", "deployments", NS, dep["metadata"]["name"], {
                "observedGeneration": 1, "readyReplicas": 1, "replicas": 1,
                "conditions": [{"type": "Available", "status": "True"}]})
            await replicas.reconcile(replica.key)
            stored = fleet.store.get("ModelReplica", replica.key)
            assert isinstance(stored, ModelReplica)
            assert {c.type: c.status for c in stored.status.conditions}["Ready"] == "True"
            endpoints = fleet.store.list("ModelEndpoint", namespace="ml-team").items
            assert [e.spec.url for e in endpoints if isinstance(e, ModelEndpoint)] == [f"http://10.0.0.10/ml-team/{replica.name}"]

            fleet.store.delete("ModelReplica", replica.key)  # the finalizer holds it until the driver tears down
            await replicas.reconcile(replica.key)  # drains first: out of the routing table
            now[0] += DRAIN_SETTLE  # the pods drain themselves; laneway only waits for gateways to drop them
            await replicas.reconcile(replica.key)
            assert fake.names("apps/v1", "deployments", NS) == []
            assert fake.names("gateway.networking.k8s.io/v1", "httproutes", NS) == []
            assert fleet.store.list("ModelEndpoint", namespace="ml-team").items == []
        finally:
            await drivers.close()

    asyncio.run(scenario())
