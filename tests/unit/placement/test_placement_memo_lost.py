"""Which clusters are lost (pure, time passed in), and the memo giving the same answers."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laneway.api.kinds import InferenceCluster
from laneway.api.meta import Condition
from laneway.placement import plan_fleet
from laneway.placement.lost import DEFAULT_NOT_READY_GRACE_PERIOD, lost_clusters
from laneway.placement.memo import PlanMemo
from laneway.store.memory import MemoryStore

from .placement_builders import as_replicas, cluster, deployment, gpu_class

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def down(name: str, *, grace: str | None = None, status: str = "False", when: str | None = "2027-01-15T08:00:00Z") -> InferenceCluster:
    c = cluster(name, [("p", "h100", 1)])
    c.spec.not_ready_grace_period = grace
    c.status.conditions = [Condition(type="Ready", status=status, reason="T", last_transition_time=when)]  # type: ignore[arg-type]
    return c


def test_lost_only_past_the_grace_period_and_when_it_will_be() -> None:
    t = T0.timestamp()
    fleet = [down("a", grace="30s"), down("b"), down("ok", status="True"), down("unknown", when=None)]
    early = lost_clusters(fleet, now=t + 10)
    assert early.names == frozenset() and early.next_at == t + 30
    later = lost_clusters(fleet, now=t + 31)
    assert later.names == {"a"} and later.next_at == t + DEFAULT_NOT_READY_GRACE_PERIOD
    assert lost_clusters(fleet, now=t + DEFAULT_NOT_READY_GRACE_PERIOD).names == {"a", "b"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.lists(st.integers(0, 3), min_size=1, max_size=4), st.integers(0, 3))
def test_the_memo_changes_no_answer(nodes: list[int], wanted: list[int], relabel: int) -> None:
    """Objects from a store (with resourceVersions), re-planned after edits: the memo's answers
    equal fresh ones at every step."""
    store = MemoryStore()
    store.create(gpu_class("h100"))
    for i, n in enumerate(nodes):
        store.create(cluster(f"c{i}", [("p", "h100", n)]))
    deps = [store.create(deployment(f"d{i}", replicas=n)) for i, n in enumerate(wanted)]
    memo = PlanMemo()
    replicas: list = []
    for step in range(3):
        clusters, classes = store.list("InferenceCluster").items, store.list("InferenceClass").items
        fresh = plan_fleet(deps, clusters=clusters, classes=classes, replicas=replicas)
        memoized = plan_fleet(deps, clusters=clusters, classes=classes, replicas=replicas, memo=memo)
        assert fresh == memoized
        if step == 0:  # stored replicas carry resourceVersions: the memo reads them once
            by_name = {d.name: d for d in deps}
            for p in fresh:
                for r in as_replicas(by_name[p.deployment.name], p.replicas):
                    store.create(r)
            replicas = store.list("ModelReplica").items
        target = store.get("InferenceCluster", clusters[relabel % len(clusters)].key)
        target.spec.node_pools[0].node_count = (target.spec.node_pools[0].node_count + step) % 4
        store.update(target)
