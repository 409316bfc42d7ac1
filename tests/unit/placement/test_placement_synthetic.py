"""Synthetic devices (the local CPU, TPU slices) are capacity: new and retained replicas alike.

A Synthetic device is never claimed through DRA, so a replica's `deviceRequests` omit it; the
capacity a retained replica holds must still count it, or a pool of 2 CPU devices would take
a third replica once the first two exist.
"""

from laneway.api.kinds import InferenceClass
from laneway.placement import plan

from .placement_builders import as_replicas, cluster, deployment

CPU = InferenceClass.model_validate(
    {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "gpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 2}]}}
)
PACKED = cluster("c", [{"name": "p", "className": "cpu", "nodeCount": 1, "accounting": "Device"}])


def test_retained_replicas_hold_their_synthetic_devices() -> None:
    first = plan(deployment("m", replicas=2), clusters=[PACKED], classes=[CPU])
    assert len(first.replicas) == 2
    existing = as_replicas(deployment("m", replicas=2), first.replicas)
    grown = plan(deployment("m", replicas=3), clusters=[PACKED], classes=[CPU], replicas=existing)
    assert len(grown.replicas) == 2, "the two retained replicas hold both CPU devices; a third must not fit"


def test_other_deployments_synthetic_replicas_take_capacity() -> None:
    first = plan(deployment("a", replicas=2), clusters=[PACKED], classes=[CPU])
    existing = as_replicas(deployment("a", replicas=2), first.replicas)
    other = plan(deployment("b", replicas=1), clusters=[PACKED], classes=[CPU], replicas=existing)
    assert other.replicas == () or len(other.replicas) == 0
