"""Every rule of the scheduler, with plain data."""

from laneway.placement import plan, plan_fleet
from laneway.placement.compose import compose_replica

from .placement_builders import as_replicas, cluster, deployment, gpu_class, member

H100 = gpu_class("h100")
H200 = gpu_class("h200", memory="141Gi", product="H200")
BIG = 'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("141Gi")) >= 0'


def test_spread_before_pack_and_ties_by_name():
    clusters = [cluster("b", [("p", "h100", 4)]), cluster("a", [("p", "h100", 4)])]
    p = plan(deployment("m", replicas=3), clusters=clusters, classes=[H100])
    assert [(r.index, r.cluster) for r in p.replicas] == [(0, "a"), (1, "b"), (2, "a")]
    assert p.condition.reason == "Scheduled"


def test_selectors_choose_pools_and_explain_misses():
    clusters = [cluster("us", [("small", "h100", 2), ("large", "h200", 1)], labels={"region": "us"}), cluster("eu", [("p", "h200", 5)], labels={"region": "eu"})]
    p = plan(deployment("m", replicas=2, selectors=[BIG], match_labels={"region": "us"}), clusters=clusters, classes=[H100, H200])
    assert [(r.cluster, r.engines[0].pool) for r in p.replicas] == [("us", "large")]
    assert p.condition.reason == "InsufficientCapacity"
    texts = [r.text() for r in p.reasons]
    assert "eu: not selected (region=us wanted)" in texts
    assert any(t.startswith("small pool in us:") and "memory 80Gi" in t for t in texts)
    assert "large pool in us: needs 1 free node, 0 free" in texts


def test_no_eligible_cluster_is_no_clusters():
    clusters = [
        cluster("down", [("p", "h100", 2)], ready=False),
        cluster("nogw", [("p", "h100", 2)], gateway=None),
        cluster("tainted", [("p", "h100", 2)], taints=[{"key": "reserved", "value": "ml", "effect": "NoSchedule"}]),
    ]
    p = plan(deployment("m"), clusters=clusters, classes=[H100])
    assert not p.replicas and p.condition.reason == "NoClusters"
    texts = " | ".join(r.text() for r in p.reasons)
    assert "down: not Ready" in texts and "nogw: has no gateway address yet" in texts and "reserved=ml:NoSchedule" in texts


def test_toleration_opens_tainted_cluster():
    c = cluster("t", [("p", "h100", 2)], taints=[{"key": "reserved", "value": "ml", "effect": "NoSchedule"}])
    d = deployment("m", tolerations=[{"key": "reserved", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}])
    assert plan(d, clusters=[c], classes=[H100]).replicas[0].cluster == "t"


def test_cost_is_pods_times_copies_and_capacity_is_shared():
    engine = {"name": "e", "copies": 2, "members": [member("Leader"), member("Worker", nodes=3)]}
    d = deployment("m", replicas=2, engines=[engine])
    c = cluster("c", [("p", "h100", 9)])
    p = plan(d, clusters=[c], classes=[H100])
    assert len(p.replicas) == 1  # one replica costs 2 x (1 + 3) = 8 of 9 nodes
    assert "needs 8 free nodes, 1 free" in " ".join(r.text() for r in p.reasons)


def test_member_without_devices_rides_free():
    engine = {"name": "e", "members": [member("Leader", devices=False), member("Worker", nodes=2)]}
    p = plan(deployment("m", engines=[engine]), clusters=[cluster("c", [("p", "h100", 2)])], classes=[H100])
    assert len(p.replicas) == 1
    leader, worker = p.replicas[0].engines[0].members
    assert leader.device_requests == () and leader.pool == "p" and worker.device_requests[0].count == 1


def test_max_node_count_is_published_capacity():
    c = cluster("c", [{"name": "p", "className": "h100", "nodeCount": 1, "maxNodeCount": 3}])
    assert len(plan(deployment("m", replicas=5), clusters=[c], classes=[H100]).replicas) == 3


def test_other_deployments_replicas_take_capacity_and_namespace_is_identity():
    c = cluster("c", [("p", "h100", 2)])
    a = deployment("m", namespace="team-a", replicas=2)
    b = deployment("m", namespace="team-b", replicas=2)
    first = plan(a, clusters=[c], classes=[H100])
    second = plan(b, clusters=[c], classes=[H100], replicas=as_replicas(a, first.replicas))
    assert len(first.replicas) == 2 and not second.replicas  # team-a's m is not team-b's m
    assert second.condition.reason == "InsufficientCapacity"


def test_backtracking_finds_fit_greedy_misses():
    # engine x fits pools small(1 node) or big(2 nodes); engine y needs 2 nodes: only big.
    # first-fit puts x on big first, leaving y nowhere; the search puts x on small.
    x = {"name": "x", "members": [member()]}
    y = {"name": "y", "members": [member("Leader"), member("Worker", nodes=1)]}
    c = cluster("c", [("big", "h100", 2), ("small", "h100", 1)])
    p = plan(deployment("m", engines=[x, y]), clusters=[c], classes=[H100])
    assert [(e.name, e.pool) for e in p.replicas[0].engines] == [("x", "small"), ("y", "big")]


def test_device_accounting_packs_pods_onto_nodes():
    node_pool = cluster("n", [{"name": "p", "className": "h100", "nodeCount": 1}])
    device_pool = cluster("d", [{"name": "p", "className": "h100", "nodeCount": 1, "accounting": "Device"}])
    d = deployment("m", replicas=4, count=2)
    assert len(plan(d, clusters=[node_pool], classes=[H100]).replicas) == 1
    assert len(plan(d, clusters=[device_pool], classes=[H100]).replicas) == 4  # 4 x 2 of 8 GPUs on one node
    assert len(plan(deployment("m", replicas=5, count=2), clusters=[device_pool], classes=[H100]).replicas) == 4


def test_request_larger_than_a_node_never_fits():
    p = plan(deployment("m", count=16), clusters=[cluster("c", [("p", "h100", 4)])], classes=[H100])
    assert not p.replicas
    assert "has 8 per node, 16 wanted" in " ".join(r.text() for r in p.reasons)


def test_retained_replicas_keep_place_and_missing_fill_lowest_index():
    c = [cluster("a", [("p", "h100", 4)]), cluster("b", [("p", "h100", 4)])]
    d = deployment("m", replicas=3)
    first = plan(d, clusters=c, classes=[H100])
    existing = as_replicas(d, [r for r in first.replicas if r.index != 1])
    again = plan(d, clusters=c, classes=[H100], replicas=existing)
    assert [(r.index, r.cluster, r.retained) for r in again.replicas] == [(0, "a", True), (1, "b", False), (2, "a", True)]


def test_scale_down_removes_from_most_loaded_highest_index():
    c = [cluster("a", [("p", "h100", 4)]), cluster("b", [("p", "h100", 4)])]
    d = deployment("m", replicas=4)
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100]).replicas)  # 0:a 1:b 2:a 3:b
    down = plan(deployment("m", replicas=1), clusters=c, classes=[H100], replicas=existing)
    assert [(r.index, r.cluster) for r in down.replicas] == [(0, "a")]
    assert down.removed == (1, 2, 3)


def test_not_ready_cluster_keeps_replicas_noexecute_evicts():
    d = deployment("m")
    ok = [cluster("a", [("p", "h100", 4)])]
    existing = as_replicas(d, plan(d, clusters=ok, classes=[H100]).replicas)
    down = [cluster("a", [("p", "h100", 4)], ready=False)]
    assert plan(d, clusters=down, classes=[H100], replicas=existing).replicas[0].retained
    noschedule = [cluster("a", [("p", "h100", 4)], taints=[{"key": "k", "effect": "NoSchedule"}])]
    assert plan(d, clusters=noschedule, classes=[H100], replicas=existing).replicas[0].retained
    noexecute = [cluster("a", [("p", "h100", 4)], taints=[{"key": "k", "effect": "NoExecute"}])]
    p = plan(d, clusters=noexecute, classes=[H100], replicas=existing)
    assert not p.replicas and p.removed == (0,)


def test_cluster_no_longer_selected_or_gone_drops_replica():
    d = deployment("m", match_labels={"tier": "gold"})
    c = [cluster("a", [("p", "h100", 4)], labels={"tier": "gold"})]
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100]).replicas)
    relabelled = [cluster("a", [("p", "h100", 4)], labels={"tier": "silver"})]
    assert plan(d, clusters=relabelled, classes=[H100], replicas=existing).removed == (0,)
    assert plan(d, clusters=[], classes=[H100], replicas=existing).removed == (0,)


def test_edit_that_pinned_pool_no_longer_meets_moves_replica():
    c = [cluster("a", [("old", "h100", 1)]), cluster("b", [("new", "h200", 1)])]
    d = deployment("m")
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100, H200]).replicas)
    assert existing[0].spec.cluster_name == "a"
    edited = plan(deployment("m", selectors=[BIG]), clusters=c, classes=[H100, H200], replicas=existing)
    # moving is delete plus create: the new replica takes a fresh index (and name), so creating
    # it never waits for the old m-0 to finish stopping
    assert [(r.index, r.cluster, r.retained, r.name) for r in edited.replicas] == [(1, "b", False, "m-1")]
    assert edited.removed == (0,) and edited.removed_names == ("m-0",)


def test_bad_edit_invalid_cel_keeps_replicas():
    c = [cluster("a", [("p", "h100", 4)])]
    d = deployment("m", replicas=1)
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100]).replicas)
    p = plan(deployment("m", replicas=3, selectors=["device.driver =="]), clusters=c, classes=[H100], replicas=existing)
    assert [r.index for r in p.replicas] == [0] and not p.removed
    assert p.condition.reason == "InvalidNodeSelector" and "syntax error" in p.condition.message


def test_bad_edit_matching_nothing_keeps_replicas():
    c = [cluster("a", [("p", "h100", 4)])]
    d = deployment("m", replicas=2)
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100]).replicas)
    p = plan(deployment("m", replicas=2, selectors=['device.attributes["gpu.nvidia.com"].productName == "B200"']), clusters=c, classes=[H100], replicas=existing)
    assert [r.index for r in p.replicas] == [0, 1] and not p.removed
    assert p.condition.reason == "NoMatchingDevices" and "productName H100" in p.condition.message


def test_engines_of_a_replica_share_a_cluster():
    x = {"name": "x", "members": [member(selectors=[BIG])]}
    y = {"name": "y", "members": [member(selectors=['device.attributes["gpu.nvidia.com"].productName == "H100"'])]}
    c = [cluster("only-h100", [("p", "h100", 4)]), cluster("only-h200", [("p", "h200", 4)]), cluster("both", [("a", "h100", 1), ("b", "h200", 1)])]
    p = plan(deployment("m", replicas=2, engines=[x, y]), clusters=c, classes=[H100, H200])
    assert [r.cluster for r in p.replicas] == ["both"]


def test_plan_fleet_fills_in_name_order_and_is_deterministic():
    c = [cluster("a", [("p", "h100", 1)])]
    ds = [deployment("zeta"), deployment("alpha")]
    out = plan_fleet(ds, clusters=c, classes=[H100])
    assert [(str(p.deployment), len(p.replicas)) for p in out] == [("default/alpha", 1), ("default/zeta", 0)]
    assert out == plan_fleet(list(reversed(ds)), clusters=c, classes=[H100])


def test_compose_replica_shape():
    d = deployment("llama", uid="u-1")
    p = plan(d, clusters=[cluster("a", [("p", "h100", 4)])], classes=[H100])
    r = compose_replica(d, p.replicas[0])
    assert r.name == "llama-0" and r.spec.cluster_name == "a"
    assert r.metadata.labels == {"laneway.dev/deployment": "llama", "laneway.dev/replica-index": "0"}
    assert r.metadata.owner_references[0].uid == "u-1"
    m = r.spec.engines[0].members[0]
    assert m.node_pool_name == "p" and m.device_requests[0].device_class_name == "gpu.nvidia.com"


def test_synthetic_devices_are_capacity_but_not_claims():
    from laneway.api.kinds import InferenceClass

    cpu = InferenceClass.model_validate(
        {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "gpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 2}]}}
    )
    one_node = cluster("c", [("p", "cpu", 1)])
    p = plan(deployment("m", replicas=3), clusters=[one_node], classes=[cpu])
    assert len(p.replicas) == 1, "node accounting: one pod takes the only node, Synthetic or not"
    assert p.replicas[0].engines[0].members[0].device_requests == ()
    packed = cluster("c", [{"name": "p", "className": "cpu", "nodeCount": 1, "accounting": "Device"}])
    assert len(plan(deployment("m", replicas=3), clusters=[packed], classes=[cpu]).replicas) == 2


def test_closed_cluster_keeps_running_replicas_and_takes_no_new_one():
    """What a ModelCache gate uses: a closed cluster is not a gone cluster."""
    c = [cluster("a", [("p", "h100", 4)]), cluster("b", [("p", "h100", 4)])]
    d = deployment("m", replicas=1)
    existing = as_replicas(d, plan(d, clusters=c, classes=[H100]).replicas)
    assert existing[0].spec.cluster_name == "a"
    closed = {"a": "ModelCache 'w' is not staged here"}
    p = plan(deployment("m", replicas=3), clusters=c, classes=[H100], replicas=existing, closed=closed)
    assert [(r.index, r.cluster, r.retained) for r in p.replicas] == [(0, "a", True), (1, "b", False), (2, "b", False)]
    short = plan(deployment("m", replicas=3), clusters=c, classes=[H100], replicas=existing, closed={**closed, "b": "closed too"})
    assert [r.index for r in short.replicas] == [0] and not short.removed
    assert short.condition.reason == "NoClusters"
    assert "a: ModelCache 'w' is not staged here" in [r.text() for r in short.reasons]


def test_plan_restores_the_garbage_collector_as_it_found_it():
    import gc

    c = [cluster("a", [("p", "h100", 4)])]
    assert gc.isenabled()
    plan(deployment("m"), clusters=c, classes=[H100])
    assert gc.isenabled()
    gc.disable()
    try:
        plan(deployment("m"), clusters=c, classes=[H100])
        assert not gc.isenabled(), "a caller that disabled collection keeps it disabled"
    finally:
        gc.enable()


def test_running_replicas_occupy_synthetic_devices_too():
    """A replica on a Synthetic-only pool (the local CPU) claims nothing through DRA, yet its
    node is taken: neither another deployment nor its own next replica may land there."""
    from laneway.api.kinds import InferenceClass

    cpu = InferenceClass.model_validate(
        {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "gpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 2}]}}
    )
    one_node = [cluster("c", [("p", "cpu", 1)])]
    a = deployment("a")
    running = as_replicas(a, plan(a, clusters=one_node, classes=[cpu]).replicas)
    other = plan(deployment("b"), clusters=one_node, classes=[cpu], replicas=running)
    assert not other.replicas and "needs 1 free node, 0 free" in other.condition.message
    scaled = plan(deployment("a", replicas=2), clusters=one_node, classes=[cpu], replicas=running)
    assert [(r.index, r.retained) for r in scaled.replicas] == [(0, True)]
    packed = [cluster("c", [{"name": "p", "className": "cpu", "nodeCount": 1, "accounting": "Device"}])]
    running = as_replicas(a, plan(a, clusters=packed, classes=[cpu]).replicas)
    assert len(plan(deployment("b", replicas=3), clusters=packed, classes=[cpu], replicas=running).replicas) == 1  # 2 cores, 1 taken
