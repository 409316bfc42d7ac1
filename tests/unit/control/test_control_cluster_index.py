"""The cluster controller finds the clusters a class event concerns from the cluster events it
has seen, without reading every cluster from the store on each class event."""

from __future__ import annotations

from pathlib import Path

from laneway.api.kinds import InferenceClass, InferenceCluster
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.control.manager import keys_for
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore
from laneway.testing.simfleet import simulated_cluster


class NoListStore(MemoryStore):
    """Fails a test that lists clusters: the mapping must come from the index."""

    def list(self, kind, **kwargs):  # type: ignore[no-untyped-def,override]
        name = kind if isinstance(kind, str) else kind.KIND
        assert name != "InferenceCluster", "a class event listed every cluster"
        return super().list(kind, **kwargs)


def a_class(name: str) -> InferenceClass:
    return InferenceClass.model_validate({"metadata": {"name": name}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.example.com", "count": 1}]}})


def gone(cluster: InferenceCluster) -> InferenceCluster:
    return cluster.model_copy(update={"metadata": cluster.metadata.model_copy(update={"deletion_timestamp": "2030-01-01T00:00:00Z"})})


def test_a_class_event_queues_the_clusters_whose_pools_name_it(tmp_path: Path) -> None:
    store = NoListStore()
    controller = ClusterController(ControlContext(store=store), DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path))
    east = simulated_cluster("east", [("a", "h100", 1), ("b", "l4", 1)])
    west = simulated_cluster("west", [("a", "h100", 2)])
    for cluster in (east, west):
        assert keys_for(controller, cluster) == [cluster.key]
    assert keys_for(controller, a_class("h100")) == [ObjectKey("", "east"), ObjectKey("", "west")]
    assert keys_for(controller, a_class("l4")) == [ObjectKey("", "east")]
    assert keys_for(controller, a_class("a100")) == []

    east_now_a100 = simulated_cluster("east", [("a", "a100", 1)])
    keys_for(controller, east_now_a100)
    assert keys_for(controller, a_class("l4")) == []
    assert keys_for(controller, a_class("a100")) == [ObjectKey("", "east")]

    keys_for(controller, gone(west))
    assert keys_for(controller, a_class("h100")) == []
