"""The pure halves of observe and cluster check: snapshots to reasons, facts to checks."""

from __future__ import annotations

from typing import Any

from kube_samples import cluster, replica

from laneway.api.kinds import ModelReplica
from laneway.drivers.kubernetes.checks import ClusterFacts, evaluate, failed, gateway_address
from laneway.drivers.kubernetes.naming import route_targets
from laneway.drivers.kubernetes.observe import Snapshot, expected_workloads, summarize

ROUTE: dict[str, Any] = {"status": {"parents": [{"parentRef": {"name": "laneway"}, "conditions": [{"type": "Accepted", "status": "True"}]}]}}


def routes(r: ModelReplica, route: dict[str, Any] = ROUTE) -> dict[str, dict[str, Any]]:
    """Every route the replica renders, each with the given status."""
    return {t.name: route for t in route_targets(r)}


def _deployment(ready: int, generation: int = 1, observed: int = 1, available: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "readyReplicas": ready,
            "conditions": [{"type": "Available", "status": "True" if available else "False"}],
        },
    }


def test_ready_when_every_workload_is_ready_and_the_route_accepted() -> None:
    r = replica("qwen-rag")
    names = [w.name for w in expected_workloads(r)]
    copies = [w.copies for w in expected_workloads(r)]
    snap = Snapshot(workloads={n: _deployment(c) for n, c in zip(names, copies)}, routes=routes(r), gateway_address="http://gw.example")
    seen = summarize(r, snap)
    assert seen.ready and seen.reason == "EnginesReady"
    assert [(a.engine, a.url) for a in seen.addresses] == [
        ("chat", "http://gw.example/ml-team/qwen-rag-0/chat"), ("embed", "http://gw.example/ml-team/qwen-rag-0/embed")
    ]


def test_not_applied_partially_ready_and_route_refused() -> None:
    r = replica("qwen-rag")
    chat, embed = [w.name for w in expected_workloads(r)]
    assert summarize(r, Snapshot(workloads={chat: _deployment(1)}, routes=routes(r))).reason == "NotApplied"
    starting = summarize(r, Snapshot(workloads={chat: _deployment(1), embed: _deployment(1)}, routes=routes(r), gateway_address="http://g"))
    assert starting.reason == "EnginesStarting" and f"Deployment {embed}: 1/2 ready" in starting.message
    refused = {"status": {"parents": [{"parentRef": {"namespace": "laneway-system", "name": "laneway"},
                                        "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners", "message": "no"}]}]}}
    seen = summarize(r, Snapshot(workloads={chat: _deployment(1), embed: _deployment(2)}, routes=routes(r, refused), gateway_address="http://g"))
    assert seen.reason == "RouteNotAccepted" and "NotAllowedByListeners" in seen.message
    no_gw = summarize(r, Snapshot(workloads={chat: _deployment(1), embed: _deployment(2)}, routes=routes(r)))
    assert no_gw.reason == "NoGatewayAddress" and not no_gw.ready


def test_leaderworkerset_counts_ready_groups_and_stale_generations_wait() -> None:
    r = replica("llama-405b")
    [w] = expected_workloads(r)
    assert w.kind == "LeaderWorkerSet"
    ok = summarize(r, Snapshot(workloads={w.name: {"metadata": {"generation": 1}, "status": {"readyReplicas": 1}}}, routes=routes(r), gateway_address="http://g"))
    assert ok.ready
    q = replica("qwen-7b")
    [d] = expected_workloads(q)
    stale = summarize(q, Snapshot(workloads={d.name: _deployment(1, generation=2, observed=1)}, routes=routes(q), gateway_address="http://g"))
    assert stale.reason == "EnginesStarting" and "generation 2" in stale.message


def test_unschedulable_pod_reports_the_scheduler_message() -> None:
    r = replica("qwen-7b")
    [d] = expected_workloads(r)
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes match pod's node affinity/selector"}]}}
    seen = summarize(r, Snapshot(workloads={d.name: _deployment(0)}, pods=(pod,), routes=routes(r)))
    assert seen.reason == "Unschedulable" and "node affinity/selector" in seen.message
    assert [m.phase for m in seen.members] == ["Pending"]


def test_gateway_address_forms() -> None:
    c = cluster("gpu-eu")
    gw = {"spec": {"listeners": [{"protocol": "HTTP", "port": 8080}]}, "status": {"addresses": [{"value": "10.0.0.1"}]}}
    assert gateway_address(gw, c) == "http://10.0.0.1:8080"
    gw["spec"]["listeners"] = [{"protocol": "HTTPS", "port": 443}]
    assert gateway_address(gw, c) == "https://10.0.0.1"
    assert gateway_address({"spec": {}, "status": {}}, c) is None
    assert gateway_address(None, c) is None


def test_checks_say_what_to_install_and_label() -> None:
    c = cluster("gpu-eu")
    facts = ClusterFacts(version={"gitVersion": "v1.34.2", "minor": "34"}, served=frozenset({"v1", "resource.k8s.io/v1"}))
    checks = evaluate(facts, c, {}, needs_inference=True)
    bad = {x.name: x for x in failed(checks)}
    assert "leaderworkerset.x-k8s.io/v1" in bad and "lws" in bad["leaderworkerset.x-k8s.io/v1"].fix
    assert "inference.networking.k8s.io/v1" in bad
    assert "kubectl label node NODE laneway.dev/pool=h100" in bad["pool h100"].fix
    unreachable = evaluate(ClusterFacts(error="refused"), c, {})
    assert [x.status for x in unreachable] == ["fail"]


def _has_command(fix: str) -> bool:
    return any(tool in fix for tool in ("kubectl ", "helm ", "laneway apply", "kubeadm ", "kube-apiserver "))


def test_every_failed_check_says_what_to_run() -> None:
    from kube_samples import EXAMPLES

    from laneway.api.manifest import load_paths

    c = cluster("gpu-eu")
    classes = {r.name: r for r in load_paths([str(EXAMPLES / "platform.yaml")]) if r.kind == "InferenceClass"}
    node = {"metadata": {"name": "n0", "labels": {"laneway.dev/pool": "h100"}}}
    short = {"spec": {"driver": "gpu.nvidia.com", "nodeName": "n0", "devices": [{"name": "g0"}]}}
    cases = [
        evaluate(ClusterFacts(error="the API server at https://x did not answer"), c, classes),
        evaluate(ClusterFacts(version={"minor": "33"}, served=frozenset({"v1"})), c, {}, needs_inference=True),
        evaluate(ClusterFacts(version={"minor": "34"}, served=frozenset({"v1"})), c, classes),
        evaluate(ClusterFacts(version={"minor": "34"}, served=frozenset({"v1", "gateway.networking.k8s.io/v1"}),
                              gateway={"spec": {}, "status": {}}, nodes=(node,), slices=(short,)), c, classes),
        evaluate(ClusterFacts(version={"minor": "34"}, served=frozenset({"v1"}), read_error="403 Forbidden: nodes is forbidden"), c, classes),
    ]
    names = set()
    for checks in cases:
        for check in failed(checks):
            names.add(check.name)
            assert _has_command(check.fix), f"{check.name}: {check.fix}"
    assert {"api", "version", "resource.k8s.io/v1", "leaderworkerset.x-k8s.io/v1", "gateway.networking.k8s.io/v1",
            "inference.networking.k8s.io/v1", "gateway", "pool h100", "pool h100 devices", "access"} <= names
    dra_off = {x.name: x for x in failed(cases[2])}["resource.k8s.io/v1"]
    assert "--runtime-config=resource.k8s.io/v1=true" in dra_off.fix
    devices = {x.name: x for x in failed(cases[3])}["pool h100 devices"]
    assert "nvidia-dra-driver-gpu" in devices.fix and "n0 (1)" in devices.message
