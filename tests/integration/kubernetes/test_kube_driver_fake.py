"""The Kubernetes driver against two fake API servers, through the official client: apply,
observe (ready, failures), scale, prune, delete, health and the gateway address."""

from __future__ import annotations

import asyncio
from typing import Any

from kube_fleet import Fleet, prepare_cluster

from laneway.api.kinds import ModelReplica
from laneway.drivers.kubernetes.driver import KubernetesDriver
from laneway.testing.fake_kube import FakeKube

NS = "laneway-ml-team"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _deployment_ready(fake: FakeKube, name: str, replicas: int) -> None:
    obj = fake.get("apps/v1", "deployments", NS, name)
    assert obj is not None
    fake.set_status(
        "apps/v1", "deployments", NS, name,
        {
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
        },
    )


def _pod(replica: ModelReplica, name: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {
                "app.kubernetes.io/managed-by": "laneway",
                "laneway.dev/namespace": replica.namespace,
                "laneway.dev/replica": replica.name,
                "laneway.dev/engine": replica.spec.engines[0].name,
            },
        },
        "spec": {"containers": [{"name": "engine", "image": "vllm"}]},
        "status": status,
    }


def test_apply_places_objects_on_each_replicas_own_cluster(fleet: Fleet, driver: KubernetesDriver) -> None:
    r0, r1 = fleet.replicas("qwen-7b")
    assert {r0.spec.cluster_name, r1.spec.cluster_name} == {"gpu-eu", "gpu-us"}
    for r in (r0, r1):
        run(driver.apply(r, fleet.cluster(r.spec.cluster_name)))
    eu, us = fleet.clusters["gpu-eu"], fleet.clusters["gpu-us"]
    eu_replica = r0 if r0.spec.cluster_name == "gpu-eu" else r1
    us_replica = r1 if eu_replica is r0 else r0
    assert eu.names("apps/v1", "deployments", NS) == [f"{eu_replica.name}-vllm"]
    assert us.names("apps/v1", "deployments", NS) == [f"{us_replica.name}-vllm"]
    [template] = eu.names("resource.k8s.io/v1", "resourceclaimtemplates", NS)
    assert template.startswith(f"{eu_replica.name}-vllm-standalone-")  # ends with a digest of its spec
    route = eu.get("gateway.networking.k8s.io/v1", "httproutes", NS, eu_replica.name)
    assert route is not None
    assert route["spec"]["rules"][0]["matches"][0]["path"]["value"] == f"/ml-team/{eu_replica.name}"
    managers = route["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managers] == [("laneway", "Apply")]


def test_replica_ready_when_the_cluster_reports_it(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("qwen-7b")[0]
    fake = fleet.fake_of(replica)
    run(driver.apply(replica, fleet.cluster(replica.spec.cluster_name)))
    seen = run(driver.observe(replica))
    assert not seen.ready and seen.reason == "EnginesStarting"
    assert f"Deployment {replica.name}-vllm" in seen.message

    _deployment_ready(fake, f"{replica.name}-vllm", 1)
    fake.put(_pod(replica, f"{replica.name}-vllm-abc", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}))
    seen = run(driver.observe(replica))
    assert seen.ready, seen.message
    assert seen.reason == "EnginesReady"
    gateway_ip = "10.0.0.10" if replica.spec.cluster_name == "gpu-eu" else "10.1.0.10"
    assert [a.url for a in seen.addresses] == [f"http://{gateway_ip}/ml-team/{replica.name}"]
    assert [m.phase for m in seen.members] == ["Ready"]


def test_pod_failures_surface_as_reasons(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("qwen-7b")[0]
    fake = fleet.fake_of(replica)
    run(driver.apply(replica, fleet.cluster(replica.spec.cluster_name)))

    claim = f"{replica.name}-vllm-abc-devices-x1"
    fake.put(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": claim, "namespace": NS, "labels": {
                "app.kubernetes.io/managed-by": "laneway", "laneway.dev/namespace": "ml-team", "laneway.dev/replica": replica.name}},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]}},
        }
    )
    pod = _pod(replica, f"{replica.name}-vllm-abc", {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 cannot allocate all claims."}],
        "resourceClaimStatuses": [{"name": "devices", "resourceClaimName": claim}],
    })
    fake.put(pod)
    seen = run(driver.observe(replica))
    assert seen.reason == "ResourceClaimNotAllocated"
    assert claim in seen.message and "cannot allocate all claims" in seen.message

    pod["status"] = {"phase": "Pending", "containerStatuses": [
        {"name": "engine", "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"vllm\""}}}]}
    fake.put(pod)
    seen = run(driver.observe(replica))
    assert seen.reason == "ImagePullBackOff"
    assert "Back-off pulling image" in seen.message


def test_scale_changes_copies_and_prune_removes_what_is_no_longer_rendered(fleet: Fleet, driver: KubernetesDriver) -> None:
    replica = fleet.replicas("qwen-rag")[0]
    fake = fleet.fake_of(replica)
    cluster = fleet.cluster(replica.spec.cluster_name)
    run(driver.apply(replica, cluster))
    assert sorted(fake.names("apps/v1", "deployments", NS)) == [f"{replica.name}-chat", f"{replica.name}-embed"]
    embed = fake.get("apps/v1", "deployments", NS, f"{replica.name}-embed")
    assert embed is not None and embed["spec"]["replicas"] == 2

    scaled = replica.model_copy(deep=True)
    scaled.spec.engines[1].copies = 3
    run(driver.apply(scaled, cluster))
    embed = fake.get("apps/v1", "deployments", NS, f"{replica.name}-embed")
    assert embed is not None and embed["spec"]["replicas"] == 3 and embed["metadata"]["generation"] == 2

    trimmed = scaled.model_copy(deep=True)
    trimmed.spec.engines = trimmed.spec.engines[:1]
    run(driver.apply(trimmed, cluster))
    assert fake.names("apps/v1", "deployments", NS) == [f"{replica.name}-chat"]
    assert fake.names("v1", "services", NS) == [f"{replica.name}-chat"]


def test_teardown_deletes_everything_the_replica_owns(fleet: Fleet, driver: KubernetesDriver) -> None:
    pd = fleet.replicas("llama-70b-pd")[0]
    other = fleet.replicas("llama-405b")[0]
    assert pd.spec.cluster_name == other.spec.cluster_name == "gpu-eu"
    fake = fleet.clusters["gpu-eu"]
    for r in (pd, other):
        run(driver.apply(r, fleet.cluster("gpu-eu")))
    assert fake.names("inference.networking.k8s.io/v1", "inferencepools", NS) == [pd.name]
    assert fake.names("leaderworkerset.x-k8s.io/v1", "leaderworkersets", NS) == [f"{other.name}-vllm"]

    run(driver.teardown(pd))
    for api, plural in [
        ("apps/v1", "deployments"), ("v1", "services"), ("v1", "configmaps"), ("v1", "serviceaccounts"),
        ("rbac.authorization.k8s.io/v1", "roles"), ("rbac.authorization.k8s.io/v1", "rolebindings"),
        ("resource.k8s.io/v1", "resourceclaimtemplates"), ("gateway.networking.k8s.io/v1", "httproutes"),
        ("inference.networking.k8s.io/v1", "inferencepools"),
    ]:
        assert not [n for n in fake.names(api, plural, NS) if n.startswith(pd.name)], plural
    assert fake.names("leaderworkerset.x-k8s.io/v1", "leaderworkersets", NS) == [f"{other.name}-vllm"]
    assert fake.names("v1", "namespaces") == ["laneway-ml-team", "laneway-system", "lws-system"]
    run(driver.teardown(pd))  # idempotent


def test_missing_crd_is_reported_with_what_to_install(fleet: Fleet) -> None:
    with FakeKube(name="bare") as bare:
        prepare_cluster(bare, crds=False)
        fleet.store.update(_with_kubeconfig(fleet, "gpu-eu", bare.kubeconfig()))
        driver = KubernetesDriver(store=fleet.store)
        try:
            replica = next(r for r in fleet.replicas("llama-405b"))
            cluster = fleet.cluster("gpu-eu")
            ok, why = run(driver.healthy(cluster))
            assert not ok
            assert "leaderworkerset.x-k8s.io/v1 is not served" in why and "kubectl apply" in why
            run(driver.apply(replica, cluster))
            seen = run(driver.observe(replica))
            assert seen.reason == "MissingAPI"
            assert "LeaderWorkerSet" in seen.message and "install LeaderWorkerSet" in seen.message
        finally:
            run(driver.close())


def test_healthy_and_gateway_address_per_cluster(fleet: Fleet, driver: KubernetesDriver) -> None:
    for name, ip in (("gpu-eu", "10.0.0.10"), ("gpu-us", "10.1.0.10")):
        ok, why = run(driver.healthy(fleet.cluster(name)))
        assert ok, why
        assert run(driver.gateway_address(fleet.cluster(name))) == f"http://{ip}"


def test_unreachable_cluster_is_not_healthy(fleet: Fleet, driver: KubernetesDriver) -> None:
    fleet.clusters["gpu-us"].stop()
    ok, why = run(driver.healthy(fleet.cluster("gpu-us")))
    assert not ok and "did not answer" in why
    replica = next(r for r in fleet.replicas("qwen-7b") if r.spec.cluster_name == "gpu-us")
    run(driver.apply(replica, fleet.cluster("gpu-us")))
    seen = run(driver.observe(replica))
    assert seen.reason == "ClusterUnavailable"


def test_missing_secret_says_what_to_create(fleet: Fleet, driver: KubernetesDriver) -> None:
    from laneway.api.meta import ObjectKey

    fleet.store.delete("Secret", ObjectKey("laneway-system", "gpu-eu-kubeconfig"))
    ok, why = run(driver.healthy(fleet.cluster("gpu-eu")))
    assert not ok
    assert "Secret laneway-system/gpu-eu-kubeconfig" in why and "does not exist" in why


def _with_kubeconfig(fleet: Fleet, cluster: str, text: str) -> Any:
    from laneway.api.kinds import Secret
    from laneway.api.meta import ObjectKey

    secret = fleet.store.get("Secret", ObjectKey("laneway-system", f"{cluster}-kubeconfig"))
    assert isinstance(secret, Secret)
    return Secret.model_validate(
        {"metadata": secret.metadata.model_dump(by_alias=True, exclude_none=True), "stringData": {"kubeconfig": text}}
    )


def test_concurrent_reconciles_share_one_connection_and_close_the_extra(fleet: Fleet) -> None:
    import threading

    from laneway.drivers.kubernetes.connection import KubeConnection, connect

    made: list[KubeConnection] = []
    closed: list[KubeConnection] = []
    both_connecting = threading.Barrier(2, timeout=10)

    def connector(text: str, where: str) -> KubeConnection:
        conn = connect(text, where=where)
        made.append(conn)
        original = conn.close
        conn.close = lambda: (closed.append(conn), original())[1]  # type: ignore[method-assign]
        both_connecting.wait()  # both reconciles are connecting at the same time
        return conn

    driver = KubernetesDriver(store=fleet.store, connector=connector)
    cluster = fleet.cluster("gpu-eu")

    async def twice() -> list[tuple[bool, str]]:
        return list(await asyncio.gather(driver.healthy(cluster), driver.healthy(cluster)))

    try:
        assert all(ok for ok, _ in run(twice()))
        assert len(made) == 2 and len(closed) == 1  # the loser's connection is closed, not leaked
    finally:
        run(driver.close())
    assert sorted(map(id, closed)) == sorted(map(id, made))  # close() closes the one kept
