"""Leaving a lost cluster: replicas on a cluster NotReady past its grace period are replaced
elsewhere; the stranded ones go once their replacements are Ready, or when the cluster returns.
The same for a lost pool of machines: every machine that joined it gone for the grace period."""

from __future__ import annotations

from datetime import UTC, datetime

from laneway.api.kinds import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, MachineStatus
from laneway.api.meta import Condition
from laneway.placement import plan
from laneway.placement.lost import lost_clusters, replica_lost

from .placement_builders import as_replicas, cluster, deployment, gpu_class

H100 = gpu_class("h100")
D = deployment("m", replicas=2)


def ready(replicas: list[ModelReplica], *names: str) -> list[ModelReplica]:
    out = []
    for r in replicas:
        if r.name in names:
            r = r.model_copy(update={"status": r.status.model_copy(update={"conditions": [Condition(type="Ready", status="True", reason="Test")]})})
        out.append(r)
    return out


def fleet(*, a_ready: bool = True) -> list:
    return [cluster("a", [("p", "h100", 2)], ready=a_ready), cluster("b", [("p", "h100", 2)])]


def test_replicas_on_a_lost_cluster_are_replaced_and_kept_until_ready() -> None:
    first = plan(D, clusters=[cluster("a", [("p", "h100", 2)])], classes=[H100])
    running = ready(as_replicas(D, first.replicas), "m-0", "m-1")
    assert {r.spec.cluster_name for r in running} == {"a"}

    notready = plan(D, clusters=fleet(a_ready=False), classes=[H100], replicas=running)
    assert notready.condition.reason == "Scheduled" and not notready.removed_names and not notready.stranded
    assert {r.cluster for r in notready.replicas} == {"a"}, "NotReady within the grace period: nothing moves"

    lost = plan(D, clusters=fleet(a_ready=False), classes=[H100], replicas=running, lost=frozenset({"a"}))
    new = [r for r in lost.replicas if not r.retained]
    assert [(r.cluster, r.replaces) for r in new] == [("b", "m-0"), ("b", "m-1")]
    assert set(lost.stranded) == {"m-0", "m-1"} and not lost.removed_names and lost.short == 0
    assert "on a lost cluster kept" in lost.condition.message

    replacements = as_replicas(D, new)
    assert replacements[0].metadata.annotations["laneway.dev/replaces"] == "m-0"
    one_ready = plan(D, clusters=fleet(a_ready=False), classes=[H100], replicas=[*running, *ready(replacements, replacements[0].name)], lost=frozenset({"a"}))
    assert one_ready.removed_names == ("m-0",) and one_ready.stranded == ("m-1",)
    assert not [r for r in one_ready.replicas if not r.retained], "no third replacement"


def test_a_returning_cluster_gives_up_its_replaced_replicas() -> None:
    first = plan(D, clusters=[cluster("a", [("p", "h100", 2)])], classes=[H100])
    running = ready(as_replicas(D, first.replicas), "m-0", "m-1")
    lost = plan(D, clusters=fleet(a_ready=False), classes=[H100], replicas=running, lost=frozenset({"a"}))
    replacements = as_replicas(D, [r for r in lost.replicas if not r.retained])
    back = plan(D, clusters=fleet(), classes=[H100], replicas=[*running, *replacements])
    assert set(back.removed_names) == {"m-0", "m-1"}
    assert {r.cluster for r in back.replicas} == {"b"} and all(r.retained for r in back.replicas)


def test_no_capacity_elsewhere_keeps_the_stranded_replicas() -> None:
    first = plan(D, clusters=[cluster("a", [("p", "h100", 2)])], classes=[H100])
    running = ready(as_replicas(D, first.replicas), "m-0", "m-1")
    only_a = [cluster("a", [("p", "h100", 2)], ready=False)]
    p = plan(D, clusters=only_a, classes=[H100], replicas=running, lost=frozenset({"a"}))
    assert set(p.stranded) == {"m-0", "m-1"} and not p.removed_names
    assert p.short == 2 and p.condition.reason == "NoClusters"


def test_replicas_on_a_lost_pool_of_machines_are_replaced_as_on_a_lost_cluster() -> None:
    first = plan(D, clusters=[cluster("a", [("p", "h100", 2)])], classes=[H100])
    running = ready(as_replicas(D, first.replicas), "m-0", "m-1")
    lost = plan(D, clusters=fleet(), classes=[H100], replicas=running, lost=frozenset({"a/p"}))
    assert [(r.cluster, r.replaces) for r in lost.replicas if not r.retained] == [("b", "m-0"), ("b", "m-1")]
    assert set(lost.stranded) == {"m-0", "m-1"}
    other_pool = plan(D, clusters=fleet(), classes=[H100], replicas=running, lost=frozenset({"a/q"}))
    assert not other_pool.stranded and all(r.retained for r in other_pool.replicas), "another pool's loss moves nothing"


def _rack(machines: list[dict[str, object]]) -> InferenceCluster:
    rack = InferenceCluster.model_validate({
        "metadata": {"name": "rack"},
        "spec": {"cluster": {"source": "Machines"}, "notReadyGracePeriod": "60s",
                 "nodePools": [{"name": "h200", "className": "c"}, {"name": "cpu", "className": "c"}]},
    })
    rack.status.machines = [MachineStatus.model_validate(m) for m in machines]
    rack.status.conditions = [Condition(type="Ready", status="True", reason="Test")]
    return rack


def test_a_pool_whose_machines_all_went_away_is_lost_after_the_grace_period() -> None:
    went = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    rack = _rack([
        {"name": "gpu-a", "pool": "h200", "ready": False, "since": "2026-12-05T11:59:00Z"},
        {"name": "gpu-b", "pool": "h200", "ready": False, "since": "2026-12-05T12:00:00Z"},
        {"name": "cpu-c", "pool": "cpu", "ready": True, "since": "2026-12-05T11:00:00Z"},
    ])
    soon = lost_clusters([rack], now=went.timestamp() + 30)
    assert soon.names == frozenset() and soon.pending == {"rack"} and soon.next_at == went.timestamp() + 60
    later = lost_clusters([rack], now=went.timestamp() + 61)
    assert later.names == {"rack/h200"}, "counted from the last machine to go; the cpu pool and the cluster serve on"
    assert replica_lost("rack", ["h200"], later.names) and not replica_lost("rack", ["cpu"], later.names)


def test_a_pool_with_no_machine_left_is_lost_at_once_and_one_ready_machine_keeps_it() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp()
    removed = _rack([{"name": "cpu-c", "pool": "cpu", "ready": True}])
    assert lost_clusters([removed], now=now).names == {"rack/h200"}
    one_left = _rack([{"name": "gpu-a", "pool": "h200", "ready": False, "since": "2026-12-05T10:00:00Z"},
                      {"name": "gpu-b", "pool": "h200", "ready": True}, {"name": "cpu-c", "pool": "cpu", "ready": True}])
    assert lost_clusters([one_left], now=now).names == frozenset()
    unknown = _rack([{"name": "gpu-a", "pool": "h200", "ready": False}, {"name": "cpu-c", "pool": "cpu", "ready": True}])
    assert lost_clusters([unknown], now=now).names == frozenset(), "nothing says how long it has been down"
