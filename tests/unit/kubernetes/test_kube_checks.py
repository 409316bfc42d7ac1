"""`laneway cluster check` sees what makes a cluster run laneway's objects, not only served APIs."""

from __future__ import annotations

from typing import Any

from kube_samples import EXAMPLES, cluster

from laneway.api.kinds import InferenceClass
from laneway.api.manifest import load_paths
from laneway.drivers.kubernetes.checks import Check, ClusterFacts, evaluate, published_devices

SERVED = frozenset({"v1", "resource.k8s.io/v1", "leaderworkerset.x-k8s.io/v1", "gateway.networking.k8s.io/v1",
                    "inference.networking.k8s.io/v1", "inference.networking.x-k8s.io/v1alpha2"})
GATEWAY = {"spec": {"gatewayClassName": "istio", "listeners": [{"protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "All"}}}]},
           "status": {"addresses": [{"value": "10.0.0.1"}]}}


def _classes() -> dict[str, InferenceClass]:
    return {r.name: r for r in load_paths([str(EXAMPLES / "platform.yaml")]) if isinstance(r, InferenceClass)}


def _slice(node: str, generation: int, devices: int, pool: str | None = None) -> dict[str, Any]:
    return {"spec": {"driver": "gpu.nvidia.com", "nodeName": node, "pool": {"name": pool or node, "generation": generation},
                     "devices": [{"name": f"g{i}"} for i in range(devices)]}}


def _facts(**changes: Any) -> ClusterFacts:
    base: dict[str, Any] = dict(
        version={"gitVersion": "v1.34.1", "minor": "34"}, served=SERVED, gateway=GATEWAY,
        gateway_class={"spec": {"controllerName": "istio.io/gateway-controller"}},
        nodes=tuple({"metadata": {"name": f"n{i}", "labels": {"laneway.dev/pool": "h100"}}} for i in range(8)),
        slices=tuple(_slice(f"n{i}", 1, 8) for i in range(8)), device_classes=frozenset({"gpu.nvidia.com"}),
        lws_controller={"status": {"readyReplicas": 1}}, storage_class={"provisioner": "filestore.csi.storage.gke.io"},
    )
    base.update(changes)
    return ClusterFacts(**base)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_cluster_with_everything_passes_every_check() -> None:
    checks = evaluate(_facts(), cluster("gpu-eu"), _classes(), needs_inference=True)
    assert [c for c in checks if c.status != "ok"] == []
    assert {"lws controller", "gateway routes", "gateway inference", "pool h100 devices", "cache storage"} <= set(_by_name(checks))


def test_devices_are_counted_per_resource_pool_generation_not_summed_across() -> None:
    stale_and_new = (_slice("n0", 1, 8), _slice("n0", 2, 8))  # a driver republished: generation 1 is on its way out
    assert published_devices(stale_and_new, "n0", "gpu.nvidia.com") == 8
    two_pools = (_slice("n0", 1, 4, pool="a"), _slice("n0", 3, 4, pool="b"))
    assert published_devices(two_pools, "n0", "gpu.nvidia.com") == 8
    short = (_slice("n0", 1, 8), _slice("n0", 2, 4))  # the newest generation has 4: 4, not 12
    facts = _facts(slices=(*short, *(_slice(f"n{i}", 1, 8) for i in range(1, 8))))
    bad = _by_name(evaluate(facts, cluster("gpu-eu"), _classes()))["pool h100 devices"]
    assert bad.status == "fail" and "n0 (4)" in bad.message


def test_a_lws_crd_without_its_controller_fails() -> None:
    for lws in (None, {"status": {"readyReplicas": 0}}):
        check = _by_name(evaluate(_facts(lws_controller=lws), cluster("gpu-eu"), _classes()))["lws controller"]
        assert check.status == "fail" and "lws-system" in check.fix


def test_a_missing_device_class_fails_with_the_driver_install() -> None:
    check = _by_name(evaluate(_facts(device_classes=frozenset({"other"})), cluster("gpu-eu"), _classes()))["pool h100 device class"]
    assert check.status == "fail" and "gpu.nvidia.com" in check.message and "helm install" in check.fix


def test_the_nvidia_hint_works_on_chart_25_8_and_gke() -> None:
    facts = _facts(slices=())
    fix = _by_name(evaluate(facts, cluster("gpu-eu"), _classes()))["pool h100 devices"].fix
    assert "gpuResourcesEnabledOverride=true" in fix and "devicePlugin.enabled=false" in fix and "gpu-driver-version=disabled" in fix


def test_a_listener_that_admits_only_its_namespace_fails() -> None:
    gateway = {**GATEWAY, "spec": {**GATEWAY["spec"], "listeners": [{"protocol": "HTTP", "port": 80}]}}  # from: Same by default
    check = _by_name(evaluate(_facts(gateway=gateway), cluster("gpu-eu"), _classes()))["gateway routes"]
    assert check.status == "fail" and "allowedRoutes" in check.fix


def test_prefill_decode_needs_a_gateway_implementation_that_routes_to_inference_pools() -> None:
    eg = _facts(gateway_class={"spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}})
    check = _by_name(evaluate(eg, cluster("gpu-eu"), _classes(), needs_inference=True))["gateway inference"]
    assert check.status == "fail" and "Envoy Gateway" in check.message and "Istio" in check.fix
    assert "gateway inference" not in _by_name(evaluate(eg, cluster("gpu-eu"), _classes()))  # Unified needs no pool support
    missing_objective = _facts(served=SERVED - {"inference.networking.x-k8s.io/v1alpha2"})
    check = _by_name(evaluate(missing_objective, cluster("gpu-eu"), _classes(), needs_inference=True))["inference.networking.x-k8s.io/v1alpha2"]
    assert check.status == "fail" and "manifests.yaml" in check.fix


def test_pool_nodes_are_found_by_the_clusters_pool_label() -> None:
    c = cluster("gpu-eu").model_copy(deep=True)
    assert c.spec.cluster.existing is not None and c.spec.cluster.existing.__pydantic_extra__ is not None
    c.spec.cluster.existing.__pydantic_extra__["nodePoolLabel"] = "cloud.google.com/gke-nodepool"
    gke_nodes = tuple({"metadata": {"name": f"n{i}", "labels": {"cloud.google.com/gke-nodepool": "h100"}}} for i in range(8))
    checks = _by_name(evaluate(_facts(nodes=gke_nodes), c, _classes()))
    assert checks["pool h100"].status == "ok" and "cloud.google.com/gke-nodepool=h100" in checks["pool h100"].message
    checks = _by_name(evaluate(_facts(), c, _classes()))  # nodes labelled by hand with laneway.dev/pool only
    assert checks["pool h100"].status == "fail"


def test_cache_storage_and_stack_are_checked() -> None:
    checks = _by_name(evaluate(_facts(storage_class=None), cluster("gpu-eu"), _classes()))
    assert checks["cache storage"].status == "fail" and "nfs-rwx does not exist" in checks["cache storage"].message
    rwo = _by_name(evaluate(_facts(storage_class={"provisioner": "pd.csi.storage.gke.io"}), cluster("gpu-eu"), _classes()))
    assert rwo["cache storage"].status == "warn"



def test_a_dynamo_cluster_needs_grove_and_kai_and_is_told_what_is_not_composed() -> None:
    dynamo = cluster("gpu-eu").model_copy(deep=True)
    dynamo.spec.stack = "Dynamo"
    checks = _by_name(evaluate(_facts(), dynamo, _classes()))
    assert checks["grove.io/v1alpha1"].status == "fail" and "helm upgrade -i grove" in checks["grove.io/v1alpha1"].fix
    assert checks["scheduling.run.ai/v2"].status == "fail" and "kai-scheduler" in checks["scheduling.run.ai/v2"].fix
    assert "leaderworkerset.x-k8s.io/v1" not in checks and "lws controller" not in checks  # gangs are Grove's there
    assert checks["stack"].status == "warn" and "ModelExpress is not composed" in checks["stack"].message
    served = SERVED | {"grove.io/v1alpha1", "scheduling.run.ai/v2"}
    missing = _by_name(evaluate(_facts(served=served), dynamo, _classes()))
    assert missing["grove operator"].status == "fail" and missing["kai queue"].status == "fail"
    assert "kubectl apply -f a Queue" in missing["kai queue"].fix
    ready = _facts(served=served, grove_operator={"status": {"readyReplicas": 1}}, kai_queue={"metadata": {"name": "default"}})
    assert [c.name for c in evaluate(ready, dynamo, _classes()) if c.status != "ok"] == ["stack"]
