"""Leaving a lost cluster: replicas on a cluster NotReady past its grace period are replaced
elsewhere; the stranded ones go once their replacements are Ready, or when the cluster returns."""

from __future__ import annotations

from laneway.api.kinds import ModelReplica
from laneway.api.meta import Condition
from laneway.placement import plan

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
