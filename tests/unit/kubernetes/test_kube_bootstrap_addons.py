"""Which add-ons a provisioned cluster gets, and that a manifest off its pin is never installed."""

from __future__ import annotations

import pytest

from laneway.api.kinds import InferenceCluster
from laneway.drivers.kubernetes import bootstrap
from laneway.drivers.kubernetes.bootstrap import BootstrapError, addons, install, validate_addons


def _cluster(source: str, **block: object) -> InferenceCluster:
    return InferenceCluster.model_validate({"metadata": {"name": "c"}, "spec": {
        "cluster": {"source": source, source.lower(): {"region": "r", **block}}, "nodePools": [{"name": "p", "className": "k"}]}})


def _kinds(source: str, **block: object) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for a in addons(_cluster(source, **block)) for o in a.objects]


def test_eks_gets_every_crd_and_a_gateway_only_of_a_named_class() -> None:
    kinds = _kinds("EKS")
    assert "CustomResourceDefinition/leaderworkersets.leaderworkerset.x-k8s.io" in kinds
    assert "CustomResourceDefinition/httproutes.gateway.networking.k8s.io" in kinds
    assert "CustomResourceDefinition/inferencepools.inference.networking.k8s.io" in kinds
    assert "Gateway/laneway" not in kinds and "Namespace/laneway-system" in kinds
    assert "Gateway/laneway" in _kinds("EKS", gatewayClassName="istio")


def test_gke_leaves_the_gateway_api_to_gke_and_uses_its_class() -> None:
    items = addons(_cluster("GKE"))
    kinds = [f"{o['kind']}/{o['metadata']['name']}" for a in items for o in a.objects]
    assert not any("gateway.networking.k8s.io" in k and k.startswith("CustomResourceDefinition") for k in kinds)
    (gateway,) = [o for a in items for o in a.objects if o["kind"] == "Gateway"]
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-regional-external-managed"
    validate_addons(items)


class Refuses:
    """A connection that fails the test if anything is sent."""

    def apply(self, obj: object) -> dict[str, object]:
        raise AssertionError(f"applied {obj!r:.80}")

    def served_group_versions(self) -> set[str]:
        raise AssertionError("asked the cluster")


def test_a_manifest_off_its_pin_is_refused_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(bootstrap.PINNED, "leaderworkersets.leaderworkerset.x-k8s.io.json", "0" * 64)  # type: ignore[arg-type]
    with pytest.raises(BootstrapError, match=r"leaderworkersets\.leaderworkerset\.x-k8s\.io\.json has SHA-256 .* not the pinned 0000"):
        install(Refuses(), addons(_cluster("EKS")))  # type: ignore[arg-type]


def test_an_invalid_addon_object_is_refused_before_anything_is_sent() -> None:
    items = addons(_cluster("EKS", gatewayClassName="istio"))
    broken = [bootstrap.AddOn(a.name, a.version, tuple({**o, "spec": {**o["spec"], "listeners": "all"}} if o["kind"] == "Gateway" else o
                                                        for o in a.objects)) for a in items]
    with pytest.raises(BootstrapError, match="listeners"):
        install(Refuses(), broken)  # type: ignore[arg-type]


def test_a_provisioned_clusters_kubernetes_settings_live_in_its_provider_block() -> None:
    from laneway.drivers.kubernetes.cache_render import cluster_settings as cache_settings
    from laneway.drivers.kubernetes.cache_render import missing_settings
    from laneway.drivers.kubernetes.settings import cluster_settings

    cluster = _cluster("EKS", gatewayClassName="istio", gatewayRef={"name": "edge", "namespace": "net"},
                       nodePoolLabel="example.com/pool", cache={"storageClassName": "efs-rwx"})
    settings = cluster_settings(cluster)
    assert (settings.gateway.namespace, settings.gateway.name, settings.pool_label) == ("net", "edge", "example.com/pool")
    assert cache_settings(cluster).storage_class == "efs-rwx"
    gateways = [o for a in addons(cluster) for o in a.objects if o["kind"] == "Gateway"]
    assert [g["metadata"] for g in gateways] == [{"name": "edge", "namespace": "net"}]
    assert "spec.cluster.gke.cache.storageClassName" in (missing_settings(_cluster("GKE")) or "")
    assert cluster_settings(_cluster("GKE")).pool_label == "cloud.google.com/gke-nodepool"
