"""Properties over random fleets: never overcommit, deterministic, retained replicas never move."""

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from laneway.placement import plan_fleet

from .placement_builders import as_replicas, cluster, deployment, gpu_class, member

CLASSES = [gpu_class("h100"), gpu_class("h200", memory="141Gi")]
BIG = 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("141Gi")) >= 0'

pools = st.lists(st.tuples(st.sampled_from(["h100", "h200"]), st.integers(0, 4)), min_size=1, max_size=3)
clusters_st = st.lists(pools, min_size=1, max_size=4)
deps_st = st.lists(
    st.tuples(st.integers(0, 4), st.booleans(), st.integers(1, 2), st.integers(0, 2)), min_size=1, max_size=4
)


def build(cluster_pools, dep_specs):
    clusters = [cluster(f"c{i}", [(f"p{j}", cls, n) for j, (cls, n) in enumerate(ps)]) for i, ps in enumerate(cluster_pools)]
    deps = []
    for i, (replicas, big, copies, workers) in enumerate(dep_specs):
        members = [member(selectors=[BIG] if big else [])] if workers == 0 else [member("Leader"), member("Worker", nodes=workers)]
        deps.append(deployment(f"d{i}", replicas=replicas, engines=[{"name": "e", "copies": copies, "members": members}]))
    return clusters, deps


def usage(placements, deps, engines_pods):
    used: Counter = Counter()
    for p in placements:
        for r in p.replicas:
            for e in r.engines:
                used[(r.cluster, e.pool)] += engines_pods[p.deployment.name]
    return used


def pods_of(dep):
    e = dep.spec.template.spec.engines[0]
    return e.copies * sum(m.pods for m in e.members)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters_st, deps_st)
def test_never_overcommits_and_is_deterministic(cluster_pools, dep_specs):
    clusters, deps = build(cluster_pools, dep_specs)
    out = plan_fleet(deps, clusters=clusters, classes=CLASSES)
    assert out == plan_fleet(list(reversed(deps)), clusters=list(reversed(clusters)), classes=CLASSES)
    used = usage(out, deps, {d.name: pods_of(d) for d in deps})
    size = {(c.name, p.name): p.node_count for c in clusters for p in c.spec.node_pools}
    for key, n in used.items():
        assert n <= size[key]
    for p in out:
        assert len(p.replicas) <= p.wanted
        assert len({r.index for r in p.replicas}) == len(p.replicas)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters_st, deps_st, st.lists(st.integers(0, 5), min_size=4, max_size=4))
def test_retained_replicas_never_move(cluster_pools, dep_specs, new_counts):
    clusters, deps = build(cluster_pools, dep_specs)
    first = plan_fleet(deps, clusters=clusters, classes=CLASSES)
    existing = [r for d, p in zip(sorted(deps, key=lambda d: d.name), first) for r in as_replicas(d, p.replicas)]
    before = {(r.metadata.labels["laneway.dev/deployment"], r.metadata.labels["laneway.dev/replica-index"]): r.spec.cluster_name for r in existing}
    rescaled = [d.model_copy(update={"spec": d.spec.model_copy(update={"replicas": n})}) for d, n in zip(deps, new_counts)]
    again = plan_fleet(rescaled, clusters=clusters, classes=CLASSES, replicas=existing)
    for p in again:
        for r in p.replicas:
            key = (p.deployment.name, str(r.index))
            if key in before:
                assert r.retained and r.cluster == before[key]
        kept = sum(1 for r in p.replicas if r.retained)
        had = sum(1 for k in before if k[0] == p.deployment.name)
        assert kept == min(had, p.wanted)  # only scale-down removes
