"""The driver against what a real API server and its controllers do with laneway's objects:
immutable ResourceClaimTemplate specs, LeaderWorkerSet's headless Service, and a Gateway
implementation that accepts (or does not attach) routes. The fake API server plays them, so
these tests fail on the renderings that would break on a real cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kube_fleet import Fleet

from laneway.drivers.kubernetes.connection import connect
from laneway.drivers.kubernetes.driver import KubernetesDriver
from laneway.drivers.kubernetes.errors import KubeApiError
from laneway.testing.fake_kube import FakeKube

NS = "laneway-ml-team"
RCT = ("resource.k8s.io/v1", "resourceclaimtemplates")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _ready(fake: FakeKube, api: str, plural: str, name: str, replicas: int = 1) -> None:
    obj = fake.get(api, plural, NS, name)
    assert obj is not None, name
    fake.set_status(api, plural, NS, name, {
        "observedGeneration": obj["metadata"]["generation"], "replicas": replicas, "readyReplicas": replicas,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
    })


# --- the fake server enforces what the real one does -----------------------------------


def test_the_fake_refuses_a_changed_claim_template_spec_as_kubernetes_does(fleet: Fleet) -> None:
    fake = fleet.clusters["gpu-eu"]
    fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    template = {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate", "metadata": {"name": "t", "namespace": NS},
        "spec": {"spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 1}}]}}},
    }
    conn = connect(fake.kubeconfig())
    try:
        conn.apply(template)
        template["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] = 2
        with pytest.raises(KubeApiError) as refused:
            conn.apply(template)
        assert refused.value.status == 422 and "field is immutable" in str(refused.value)
    finally:
        conn.close()


def test_the_fake_lws_controller_keeps_its_headless_service_even_when_forced(fleet: Fleet) -> None:
    """What the old rendering met: a Service applied under the set's name finds LWS's headless
    Service there, and a forced apply leaves it headless, publishing not-ready pods."""
    replica = fleet.replicas("llama-405b")[0]
    fake = fleet.fake_of(replica)
    run(_apply(fleet, replica))
    lws = f"{replica.name}-vllm"
    conn = connect(fake.kubeconfig())
    try:
        conn.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": lws, "namespace": NS},
                    "spec": {"type": "ClusterIP", "selector": {"x": "y"}, "ports": [{"port": 8000}]}})
    finally:
        conn.close()
    taken = fake.get("v1", "services", NS, lws)
    assert taken is not None
    assert taken["spec"]["clusterIP"] == "None" and taken["spec"]["publishNotReadyAddresses"] is True


async def _apply(fleet: Fleet, replica: Any, driver: KubernetesDriver | None = None) -> KubernetesDriver:
    d = driver or KubernetesDriver(store=fleet.store)
    await d.apply(replica, fleet.cluster(replica.spec.cluster_name))
    seen = await d.observe(replica)
    assert seen.reason not in ("ApplyFailed", "InvalidManifests", "RenderFailed", "MissingAPI"), seen.message
    if driver is None:
        await d.close()
    return d


# --- what laneway renders works with them ----------------------------------------------


def test_leader_worker_serving_service_is_not_the_headless_service_lws_creates(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("llama-405b")[0]
    fake = fleet.fake_of(replica)
    run(driver.apply(replica, fleet.cluster(replica.spec.cluster_name)))
    lws = f"{replica.name}-vllm"
    headless = fake.get("v1", "services", NS, lws)
    assert headless is not None and headless["spec"]["clusterIP"] == "None"
    assert [m["manager"] for m in headless["metadata"]["managedFields"]] == ["lws-controller-manager"]  # laneway never wrote it
    serving = fake.get("v1", "services", NS, f"{lws}-leader")
    assert serving is not None and serving["spec"]["clusterIP"] != "None" and not serving["spec"].get("publishNotReadyAddresses")
    assert ("apply", "Service", lws) not in fake.state.writes
    run(driver.teardown(replica))
    assert fake.get("v1", "services", NS, lws) is None  # gone with its set


def test_a_changed_device_count_is_applied_as_a_new_claim_template_and_the_old_one_pruned(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("qwen-7b")[0]
    fake = fleet.fake_of(replica)
    cluster = fleet.cluster(replica.spec.cluster_name)
    run(driver.apply(replica, cluster))
    [before] = fake.names(*RCT, NS)
    more = replica.model_copy(deep=True)
    more.spec.engines[0].members[0].device_requests[0].count = 2
    run(driver.apply(more, cluster))
    seen = run(driver.observe(more))
    assert seen.reason != "ApplyFailed", seen.message
    [after] = fake.names(*RCT, NS)
    assert after != before
    deployment = fake.get("apps/v1", "deployments", NS, f"{replica.name}-vllm")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["resourceClaims"][0]["resourceClaimTemplateName"] == after


def test_replica_is_ready_only_once_the_gateway_attached_its_routes(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = next(r for r in fleet.replicas("qwen-rag"))
    fake = fleet.fake_of(replica)
    cluster = fleet.cluster(replica.spec.cluster_name)
    # The Gateway admits routes from its own namespace only: laneway's routes are not accepted.
    gateway = fake.get("gateway.networking.k8s.io/v1", "gateways", "laneway-system", "laneway")
    assert gateway is not None
    gateway["spec"]["listeners"][0]["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    fake.put(gateway)
    run(driver.apply(replica, cluster))
    for engine, copies in (("chat", 1), ("embed", 2)):
        _ready(fake, "apps/v1", "deployments", f"{replica.name}-{engine}", copies)
    seen = run(driver.observe(replica))
    assert seen.reason == "RouteNotAccepted" and "NotAllowedByListeners" in seen.message
    route = fake.get("gateway.networking.k8s.io/v1", "httproutes", NS, f"{replica.name}-chat")
    assert route is not None and route["status"]["parents"][0]["conditions"][0]["status"] == "False"

    gateway["spec"]["listeners"][0]["allowedRoutes"] = {"namespaces": {"from": "All"}}
    fake.put(gateway)  # the implementation re-evaluates the routes of a changed Gateway
    seen = run(driver.observe(replica))
    assert seen.ready, seen.message
    assert sorted(a.url.rsplit("/", 1)[1] for a in seen.addresses) == ["chat", "embed"]


def test_a_route_to_a_gateway_that_does_not_exist_is_never_ready(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("qwen-7b")[0]
    fake = fleet.fake_of(replica)
    cluster = fleet.cluster(replica.spec.cluster_name)
    fake.state.delete(fake.served("gateway.networking.k8s.io/v1", "gateways"), "laneway-system", "laneway")
    run(driver.apply(replica, cluster))
    _ready(fake, "apps/v1", "deployments", f"{replica.name}-vllm")
    route = fake.get("gateway.networking.k8s.io/v1", "httproutes", NS, replica.name)
    assert route is not None and route["status"]["parents"] == []
    seen = run(driver.observe(replica))
    assert not seen.ready and seen.reason == "RouteNotAccepted" and "not attached" in seen.message


def test_prefill_decode_is_ready_with_picker_and_pool_accepted(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("llama-70b-pd")[0]
    fake = fleet.fake_of(replica)
    run(driver.apply(replica, fleet.cluster(replica.spec.cluster_name)))
    for name, copies in ((f"{replica.name}-prefill", 2), (f"{replica.name}-decode", 1)):
        _ready(fake, "apps/v1", "deployments", name, copies)
    seen = run(driver.observe(replica))
    assert seen.reason == "EnginesStarting" and f"{replica.name}-epp" in seen.message
    _ready(fake, "apps/v1", "deployments", f"{replica.name}-epp")
    pool = fake.get("inference.networking.k8s.io/v1", "inferencepools", NS, replica.name)
    assert pool is not None and pool["status"]["parents"]
    seen = run(driver.observe(replica))
    assert seen.ready, seen.message
    assert fake.names("rbac.authorization.k8s.io/v1", "clusterroles") == [f"laneway-ml-team-{replica.name}-epp"]
    run(driver.teardown(replica))
    assert fake.names("rbac.authorization.k8s.io/v1", "clusterroles") == []
    assert fake.names("rbac.authorization.k8s.io/v1", "clusterrolebindings") == []


def test_a_dynamo_cluster_runs_grove_gangs_and_says_what_is_not_composed(fleet: Fleet, driver: KubernetesDriver) -> None:
    fake = fleet.clusters["gpu-eu"]
    cluster = fleet.cluster("gpu-eu").model_copy(deep=True)
    cluster.spec.stack = "Dynamo"
    fleet.store.update(cluster)
    ok, why = run(driver.healthy(cluster))
    assert not ok and "scheduling.run.ai/v2 is not served" in why and "kai-scheduler" in why  # KAI not installed yet
    fake.install_crds([_kai_queue_crd()])
    ok, why = run(driver.healthy(cluster))
    assert ok, why
    assert "ModelExpress is not composed" in why  # the cluster's Ready condition names the gap
    replica = next(r for r in fleet.replicas("llama-405b"))
    run(driver.apply(replica, cluster))
    assert fake.names("leaderworkerset.x-k8s.io/v1", "leaderworkersets", NS) == []
    [pcs] = fake.names("grove.io/v1alpha1", "podcliquesets", NS)
    seen = run(driver.observe(replica))
    assert seen.reason == "EnginesStarting" and f"PodCliqueSet {pcs}" in seen.message
    obj = fake.get("grove.io/v1alpha1", "podcliquesets", NS, pcs)
    assert obj is not None
    fake.set_status("grove.io/v1alpha1", "podcliquesets", NS, pcs,
                    {"observedGeneration": obj["metadata"]["generation"], "replicas": 1, "availableReplicas": 1})
    seen = run(driver.observe(replica))
    assert seen.ready, seen.message
    run(driver.teardown(replica))
    assert fake.names("grove.io/v1alpha1", "podcliquesets", NS) == []


def _kai_queue_crd() -> dict[str, Any]:
    """The KAI Scheduler's Queue CRD, reduced to what the checks read (its name and version)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "queues.scheduling.run.ai"},
        "spec": {"group": "scheduling.run.ai", "scope": "Cluster",
                 "names": {"kind": "Queue", "plural": "queues", "singular": "queue", "listKind": "QueueList"},
                 "versions": [{"name": "v2", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }
