"""What replicas hold, read from replicas, clusters and classes as the store has them."""

from __future__ import annotations

import pytest

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.economics import Window, capacity_cost
from laneway.economics.occupancy import occupancy

H = 3600.0
CONTAINER = {"spec": {"containers": [{"name": "engine", "image": "x"}]}}


def klass(name: str, pricing: dict[str, object] | None) -> InferenceClass:
    spec: dict[str, object] = {
        "devices": [
            {
                "name": "gpu",
                "driver": "gpu.example.com",
                "deviceClassName": "gpu.example.com",
                "count": 8,
            }
        ],
    }
    if pricing is not None:
        spec["pricing"] = pricing
    return InferenceClass.model_validate({"metadata": {"name": name}, "spec": spec})


def cluster(name: str, pools: list[dict[str, object]]) -> InferenceCluster:
    return InferenceCluster.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": pools},
        }
    )


def replica(
    name: str,
    cluster_name: str,
    pool: str,
    *,
    created: str,
    deleted: str | None = None,
    workers: int = 0,
) -> ModelReplica:
    member: dict[str, object] = {
        "nodePoolName": pool,
        "deviceRequests": [
            {"name": "gpu", "deviceClassName": "gpu.example.com", "count": 2}
        ],
        "template": CONTAINER,
    }
    members = [member]
    if workers:
        members = [
            member | {"role": "Leader"},
            member | {"role": "Worker", "worker": {"nodes": workers}},
        ]
    meta: dict[str, object] = {
        "name": name,
        "namespace": "ml",
        "creationTimestamp": created,
    }
    if deleted:
        meta["deletionTimestamp"] = deleted
    return ModelReplica.model_validate(
        {
            "metadata": meta,
            "spec": {
                "clusterName": cluster_name,
                "engines": [{"name": "main", "members": members}],
            },
        }
    )


CLASSES = {
    "h100": klass("h100", {"perNodeHour": 16.0, "currency": "USD"}),
    "h100-dev": klass("h100-dev", {"perNodeHour": 16.0, "perDeviceHour": 2.5}),
    "free": klass("free", None),
}
CLUSTERS = {
    "a": cluster(
        "a",
        [
            {"name": "node", "className": "h100"},
            {"name": "dev", "className": "h100-dev", "accounting": "Device"},
        ],
    ),
    "b": cluster("b", [{"name": "bare", "className": "free"}]),
}
WINDOW = Window(
    1_767_225_600.0, 1_767_225_600.0 + 10 * H
)  # 2026-01-01T00:00:00Z, ten hours


def test_node_and_device_pools_from_replicas() -> None:
    reps = [
        replica("chat-0", "a", "node", created="2025-12-31T00:00:00Z"),
        replica("chat-1", "a", "dev", created="2026-01-01T05:00:00Z"),
    ]
    occ = occupancy(reps, CLUSTERS, CLASSES)
    assert occ.unpriced == []
    cost = capacity_cost(occ.holdings, WINDOW)
    # chat-0: one node for 10 h at 16; chat-1: two devices for 5 h at 2.5.
    assert cost.by_replica == {
        "chat-0": pytest.approx(160.0),
        "chat-1": pytest.approx(25.0),
    }


def test_worker_members_hold_a_node_per_pod_and_deleted_replicas_stop_at_deletion() -> (
    None
):
    reps = [
        replica(
            "big-0",
            "a",
            "node",
            created="2026-01-01T00:00:00Z",
            deleted="2026-01-01T02:00:00Z",
            workers=3,
        )
    ]
    cost = capacity_cost(occupancy(reps, CLUSTERS, CLASSES).holdings, WINDOW)
    # A leader pod and three worker pods, one node each, for two hours.
    assert cost.total == pytest.approx(4 * 16.0 * 2)


def test_unpriced_pools_and_unknown_clusters_are_named_not_counted_free() -> None:
    reps = [
        replica("x-0", "b", "bare", created="2026-01-01T00:00:00Z"),
        replica("x-1", "gone", "node", created="2026-01-01T00:00:00Z"),
    ]
    occ = occupancy(reps, CLUSTERS, CLASSES)
    assert occ.holdings == []
    assert occ.unpriced == [
        "replica x-0: pool bare of cluster b (class free) has no pricing",
        "replica x-1: cluster gone is not in the fleet",
    ]


def test_synthetic_devices_count_by_what_the_node_selector_asked() -> None:
    member = {
        "nodePoolName": "dev",
        "nodeSelector": {"devices": [{"name": "slot", "count": 3}]},
        "template": CONTAINER,
    }
    r = ModelReplica.model_validate(
        {
            "metadata": {"name": "s-0", "namespace": "ml", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"clusterName": "a", "engines": [{"name": "main", "members": [member]}]},
        }
    )
    cost = capacity_cost(occupancy([r], CLUSTERS, CLASSES).holdings, WINDOW)
    assert cost.total == pytest.approx(3 * 2.5 * 10)
