"""Two fake workload clusters (eu and us) on loopback, and a store that describes them (fixtures in conftest.py).

Each fake cluster has the LeaderWorkerSet, Gateway API and Inference Extension CRDs
installed (the bundled copies) with LeaderWorkerSet's controller running, an Istio
GatewayClass and a Gateway `laneway-system/laneway` of it with an address, a ReadWriteMany
StorageClass `nfs-rwx`, the DeviceClass `gpu.nvidia.com`, and two nodes labelled for the
`h100` pool publishing 8 GPUs each in ResourceSlices. The store holds
the kubeconfig Secrets, the class and the two InferenceClusters of examples/kubernetes.
Every server is stopped when its test ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment, ModelReplica, Secret
from laneway.api.manifest import load_paths
from laneway.api.meta import ObjectKey
from laneway.cli.plan import run_plan
from laneway.drivers import registry
from laneway.drivers.kubeconfig import Kubeconfig
from laneway.drivers.kubernetes.driver import KubernetesDriver
from laneway.drivers.kubernetes.validation import bundled_crds
from laneway.drivers.provisioners.eks import EksProvisioner
from laneway.drivers.provisioners.gke import GkeProvisioner
from laneway.drivers.provisioning import register_provisioned_source
from laneway.drivers.registry import DriverContext
from laneway.placement.compose import compose_replica
from laneway.store.memory import MemoryStore
from laneway.testing.fake_kube import FakeKube

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "kubernetes"
GATEWAY_IP = {"gpu-eu": "10.0.0.10", "gpu-us": "10.1.0.10"}


class EksOnFakeKube(EksProvisioner):
    """The EKS provisioner, whose created cluster answers at the fake Kubernetes API (moto's
    cluster endpoint is not a real server)."""

    fake: FakeKube | None = None

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        super().kubeconfig(cluster)  # the EKS side: cluster ACTIVE, an STS token minted
        assert self.fake is not None
        return Kubeconfig(self.fake.kubeconfig(), f"EKS cluster {cluster.name} (fake API)")


class GkeOnFakeKube(GkeProvisioner):
    """The GKE provisioner, whose created cluster answers at the fake Kubernetes API."""

    fake: FakeKube | None = None

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        super().kubeconfig(cluster)  # the GKE side: cluster RUNNING, an access token minted
        assert self.fake is not None
        return Kubeconfig(self.fake.kubeconfig(), f"GKE cluster {cluster.name} (fake API)")


OnFakeKube = TypeVar("OnFakeKube", EksOnFakeKube, GkeOnFakeKube)


def provision_on(monkeypatch: pytest.MonkeyPatch, source: str, kind: type[OnFakeKube], kube: FakeKube) -> list[OnFakeKube]:
    """Register `kind` (the EKS or GKE provisioner answering at `kube`) as `source` for this
    test; returns the list each provisioner made is appended to."""
    registry.source_names()
    monkeypatch.setattr(registry, "_sources", {k: v for k, v in registry._sources.items() if k != source})
    made: list[OnFakeKube] = []

    def factory(context: DriverContext) -> OnFakeKube:
        assert context.store is not None
        made.append(kind(store=context.store))
        made[-1].fake = kube
        return made[-1]

    register_provisioned_source(source, factory)
    return made


@contextmanager
def started(name: str, **prepare: Any) -> Iterator[FakeKube]:
    """A fake cluster, started and prepared (`prepare_cluster` options), stopped on exit."""
    kube = FakeKube(name=name)
    kube.start()
    try:
        prepare_cluster(kube, **prepare)
        yield kube
    finally:
        kube.stop()


def prepare_cluster(fake: FakeKube, *, crds: bool = True, gateway_ip: str | None = "10.0.0.10", gpus: int = 8) -> None:
    fake.put({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "nfs-rwx"}, "provisioner": "nfs.csi.k8s.io"})
    if fake.state.dra:
        fake.put({"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
                  "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com'"}}]}})
    if crds:
        fake.install_crds(bundled_crds())
        fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "laneway-system"}})
        fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lws-system"}})
        fake.put(_deployment("lws-system", "lws-controller-manager", ready=1))
        fake.put({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "istio"},
                  "spec": {"controllerName": "istio.io/gateway-controller"}})
        if gateway_ip is not None:
            fake.put(
                {
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "Gateway",
                    "metadata": {"name": "laneway", "namespace": "laneway-system"},
                    "spec": {
                        "gatewayClassName": "istio",
                        "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}],
                    },
                    "status": {"addresses": [{"type": "IPAddress", "value": gateway_ip}]},
                }
            )
    for i in range(2):
        node = f"gpu-node-{i}"
        fake.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"laneway.dev/pool": "h100"}}})
        if fake.state.dra:
            fake.put(
                {
                    "apiVersion": "resource.k8s.io/v1",
                    "kind": "ResourceSlice",
                    "metadata": {"name": f"{node}-gpu"},
                    "spec": {
                        "driver": "gpu.nvidia.com",
                        "nodeName": node,
                        "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
                        "devices": [{"name": f"gpu-{d}"} for d in range(gpus)],
                    },
                }
            )


def _deployment(namespace: str, name: str, *, ready: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "manager", "image": "lws:v0.7"}]}}},
        "status": {"replicas": 1, "readyReplicas": ready},
    }


@dataclass
class Fleet:
    store: MemoryStore
    clusters: dict[str, FakeKube]
    resources: list[Any]

    def cluster(self, name: str) -> InferenceCluster:
        c = self.store.get("InferenceCluster", ObjectKey("", name))
        assert isinstance(c, InferenceCluster)
        return c

    def replicas(self, deployment: str) -> list[ModelReplica]:
        """The deployment's replicas as the scheduler places them, stored (so they have uids)."""
        deployments = {r.name: r for r in self.resources if isinstance(r, ModelDeployment)}
        out = []
        for placement in run_plan(self.resources):
            if placement.deployment.name != deployment:
                continue
            for placed in placement.replicas:
                replica = compose_replica(deployments[deployment], placed)
                stored = self.store.create(replica)
                assert isinstance(stored, ModelReplica)
                out.append(stored)
        return out

    def fake_of(self, replica: ModelReplica) -> FakeKube:
        return self.clusters[replica.spec.cluster_name]


def _store_for(resources: list[Any], fakes: dict[str, FakeKube]) -> MemoryStore:
    store = MemoryStore()
    for r in resources:  # the clusters that have a fake API server (not examples/kubernetes/dynamo.yaml's)
        if isinstance(r, InferenceClass) or (isinstance(r, InferenceCluster) and r.name in fakes):
            store.create(r)
    for name, fake in fakes.items():
        store.create(
            Secret.model_validate(
                {"metadata": {"name": f"{name}-kubeconfig", "namespace": "laneway-system"}, "stringData": {"kubeconfig": fake.kubeconfig()}}
            )
        )
    return store


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    resources = load_paths([str(EXAMPLES)])
    fakes = {name: FakeKube(name=name) for name in ("gpu-eu", "gpu-us")}
    try:
        for name, fake in fakes.items():
            fake.start()
            prepare_cluster(fake, gateway_ip=GATEWAY_IP[name])
        yield Fleet(store=_store_for(resources, fakes), clusters=fakes, resources=resources)
    finally:
        for fake in fakes.values():
            fake.stop()


@pytest.fixture
def driver(fleet: Fleet) -> Iterator[KubernetesDriver]:
    d = KubernetesDriver(store=fleet.store)
    yield d
    asyncio.run(d.close())
