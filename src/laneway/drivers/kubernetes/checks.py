"""Is an Existing cluster fit to run replicas? The checks an operator needs before trusting it.

`gather(conn, cluster)` reads the facts (blocking I/O: run it in a thread from async code);
`evaluate(facts, cluster, classes)` is pure and returns one `Check` per question, each failed
one saying what to install or label, with the command:

1. the API answers (and with which Kubernetes version; 1.34 or later is needed);
2. `resource.k8s.io/v1` (DRA) is served;
3. LeaderWorkerSet, the Gateway API, and (only when a PrefillDecode replica needs it) the
   Inference Extension with the InferenceObjective API its endpoint picker watches, are
   installed;
4. the LeaderWorkerSet controller runs (its Deployment in `lws-system` has a ready replica:
   without it a LeaderWorkerSet is accepted and never makes pods);
5. the cluster's Gateway exists, has an address, and has a listener whose `allowedRoutes`
   admits routes from other namespaces (laneway's live in `laneway-<namespace>`); for
   PrefillDecode, its GatewayClass's implementation routes to InferencePools;
6. every declared GPU pool has nodes carrying its node selector (the provider's pool label,
   `laneway.dev/pool`, or the pool's own `nodeSelector`), as many as declared;
7. the DeviceClass each DRA device names exists, and the devices the pool's InferenceClass
   declares are published in ResourceSlices on those nodes, by the class's driver, at least
   `count` per node, counting only each resource pool's newest generation (a driver that
   republishes leaves older slices behind for a while; adding them up would double-count);
8. the storage class ModelCaches use exists (a warning when none is named, or when its
   provisioner is not one known to provision ReadWriteMany volumes);
9. on a `stack: Dynamo` cluster: Grove's and the KAI Scheduler's APIs are served, Grove's
   operator runs, the KAI queue laneway's pods join exists, and what laneway does not compose
   of Dynamo is said (a warning).

`healthy` (the InferenceCluster's Ready) needs 1-3 (and Dynamo's APIs) only: the rest is reported by the
check command, not held against a cluster that serves what it has. A read the kubeconfig's user is
not allowed (403) is its own failed check ("access"), naming the RBAC to grant, rather than
making the whole API look unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.drivers.kubernetes import kinds
from laneway.drivers.kubernetes.cache_render import cluster_settings as cache_settings
from laneway.drivers.kubernetes.connection import KubeConnection
from laneway.drivers.kubernetes.errors import ClusterUnavailable, KubeApiError, RenderError
from laneway.drivers.kubernetes.naming import GatewayRef, gateway_ref, settings_path
from laneway.drivers.kubernetes.settings import ClusterSettings, cluster_settings
from laneway.drivers.kubernetes.stacks import required_apis, stack_note

MIN_MINOR = 34
REQUIRED_APIS = ("resource.k8s.io/v1", "leaderworkerset.x-k8s.io/v1", "gateway.networking.k8s.io/v1")
INFERENCE_API = "inference.networking.k8s.io/v1"
OBJECTIVE_API = "inference.networking.x-k8s.io/v1alpha2"  # InferenceObjective, which the endpoint picker watches
LWS_NAMESPACE = "lws-system"
LWS_CONTROLLER = "lws-controller-manager"
GROVE_NAMESPACE = "grove-system"
GROVE_OPERATOR = "grove-operator"

# GatewayClass controllers that route HTTPRoutes to InferencePool backends.
INFERENCE_POOL_CONTROLLERS = {
    "istio.io/gateway-controller": "Istio (with ENABLE_GATEWAY_API_INFERENCE_EXTENSION=true)",
    "kgateway.dev/kgateway": "kgateway (with its inference extension enabled)",
    "networking.gke.io/gateway": "GKE Gateway",
    "gateway.nginx.org/nginx-gateway-controller": "NGINX Gateway Fabric (with gwAPIInferenceExtension enabled)",
}
NO_INFERENCE_POOL_CONTROLLERS = {
    "gateway.envoyproxy.io/gatewayclass-controller": "Envoy Gateway",
}
# CSI provisioners whose volumes can be ReadWriteMany.
RWX_PROVISIONERS = (
    "filestore.csi.storage.gke.io", "efs.csi.aws.com", "file.csi.azure.com", "nfs.csi.k8s.io", "cephfs.csi.ceph.com",
    "nfs-subdir-external-provisioner", "cluster.local/nfs", "rook-ceph.cephfs.csi.ceph.com", "openshift-storage.cephfs.csi.ceph.com",
)

CheckStatus = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    message: str
    fix: str = ""


@dataclass(frozen=True)
class ClusterFacts:
    """What was read from the cluster. `error` is set (and the rest empty) when it did not answer;
    `read_error` when it answered but a later read (gateway, nodes, slices) was refused."""

    error: str = ""
    read_error: str = ""
    version: Mapping[str, Any] = field(default_factory=dict)
    served: frozenset[str] = frozenset()
    gateway: Mapping[str, Any] | None = None
    gateway_class: Mapping[str, Any] | None = None
    nodes: tuple[Mapping[str, Any], ...] = ()
    slices: tuple[Mapping[str, Any], ...] = ()
    device_classes: frozenset[str] = frozenset()
    lws_controller: Mapping[str, Any] | None = None
    storage_class: Mapping[str, Any] | None = None
    grove_operator: Mapping[str, Any] | None = None
    kai_queue: Mapping[str, Any] | None = None


def gather(conn: KubeConnection, cluster: InferenceCluster, *, deep: bool = True) -> ClusterFacts:
    """Read the facts the checks need. `deep=False` reads only version and served APIs."""
    try:
        version = conn.version()
        served = frozenset(conn.served_group_versions())
    except (ClusterUnavailable, KubeApiError) as error:
        return ClusterFacts(error=str(error))
    if not deep:
        return ClusterFacts(version=version, served=served)
    ref = gateway_ref(cluster)
    read: dict[str, Any] = {}
    try:
        if "gateway.networking.k8s.io/v1" in served:
            read["gateway"] = conn.find(kinds.GATEWAY, ref.name, namespace=ref.namespace)
            class_name = ((read["gateway"] or {}).get("spec") or {}).get("gatewayClassName")
            if class_name:
                read["gateway_class"] = conn.find(kinds.GATEWAY_CLASS, str(class_name))
        read["nodes"] = tuple(conn.list(kinds.NODE))
        if "resource.k8s.io/v1" in served:
            read["slices"] = tuple(conn.list(kinds.RESOURCE_SLICE))
            read["device_classes"] = frozenset(str(d["metadata"]["name"]) for d in conn.list(kinds.DEVICE_CLASS))
        if "leaderworkerset.x-k8s.io/v1" in served:
            read["lws_controller"] = conn.find(kinds.DEPLOYMENT, LWS_CONTROLLER, namespace=LWS_NAMESPACE)
        if cluster.spec.stack == "Dynamo":
            if "grove.io/v1alpha1" in served:
                read["grove_operator"] = conn.find(kinds.DEPLOYMENT, GROVE_OPERATOR, namespace=GROVE_NAMESPACE)
            if "scheduling.run.ai/v2" in served:
                read["kai_queue"] = conn.find(kinds.KAI_QUEUE, cluster_settings(cluster).kai_queue)
        storage = cache_settings(cluster).storage_class
        if storage:
            read["storage_class"] = conn.find(kinds.STORAGE_CLASS, storage)
    except ClusterUnavailable as error:
        return ClusterFacts(error=str(error))
    except KubeApiError as error:
        return ClusterFacts(version=version, served=served, gateway=read.get("gateway"), read_error=str(error))
    return ClusterFacts(version=version, served=served, **read)


def gateway_address(gateway: Mapping[str, Any] | None, cluster: InferenceCluster) -> str | None:
    """`http(s)://<address>[:port]` of the cluster's Gateway, from its status; a hostname set in
    the InferenceCluster's `spec.gateway.hostname` wins (the name clients reach it by)."""
    if gateway is None:
        return None
    addresses = [a.get("value") for a in ((gateway.get("status") or {}).get("addresses") or []) if a.get("value")]
    host = cluster.spec.gateway.hostname if cluster.spec.gateway and cluster.spec.gateway.hostname else (addresses[0] if addresses else None)
    if not host:
        return None
    listeners = (gateway.get("spec") or {}).get("listeners") or []
    http = next((listener for listener in listeners if listener.get("protocol") in ("HTTP", "HTTPS")), None)
    scheme = "https" if http and http.get("protocol") == "HTTPS" else "http"
    port = int(http.get("port")) if http and http.get("port") else (443 if scheme == "https" else 80)
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _minor(version: Mapping[str, Any]) -> int | None:
    text = str(version.get("minor") or "").rstrip("+")
    return int(text) if text.isdigit() else None


def api_checks(facts: ClusterFacts, *, needs_inference: bool = False, stack: str = "Standard") -> list[Check]:
    """Checks 1-3: reachable, version, required APIs (and the stack's)."""
    if facts.error:
        return [Check("api", "fail", facts.error,
                      "check the kubeconfig Secret's server address and credentials (kubectl --kubeconfig FILE version)")]
    out = [Check("api", "ok", f"the API answers (Kubernetes {facts.version.get('gitVersion', '?')})")]
    minor = _minor(facts.version)
    if minor is not None and minor < MIN_MINOR:
        out.append(Check("version", "fail", f"Kubernetes 1.{minor} is older than 1.{MIN_MINOR}",
                         f"upgrade the control plane and nodes to 1.{MIN_MINOR} or later (laneway claims devices with DRA's "
                         f"resource.k8s.io/v1), e.g. kubeadm upgrade apply v1.{MIN_MINOR}.0, gcloud container clusters upgrade "
                         f"CLUSTER --cluster-version 1.{MIN_MINOR}, az aks upgrade -n CLUSTER -g GROUP -k 1.{MIN_MINOR}, "
                         f"eksctl upgrade cluster --name CLUSTER --version 1.{MIN_MINOR}"))
    else:
        out.append(Check("version", "ok", f"Kubernetes 1.{minor if minor is not None else '?'} is 1.{MIN_MINOR} or later"))
    base = [api for api in REQUIRED_APIS if not (stack == "Dynamo" and api.startswith("leaderworkerset."))]  # gangs are Grove's there
    wanted = [*base, *([INFERENCE_API, OBJECTIVE_API] if needs_inference else []), *required_apis(stack)]
    for api in wanted:
        if api in facts.served:
            out.append(Check(api, "ok", f"{api} is served"))
        elif api == "resource.k8s.io/v1" and minor is not None and minor >= MIN_MINOR:
            out.append(Check(api, "fail", f"{api} is not served although Kubernetes 1.{minor} has it",
                             "the API server runs with DRA switched off: start kube-apiserver with "
                             "--runtime-config=resource.k8s.io/v1=true --feature-gates=DynamicResourceAllocation=true "
                             "(on a managed cluster, turn on its DRA option), then kubectl api-versions | grep resource.k8s.io"))
        else:
            out.append(Check(api, "fail", f"{api} is not served", kinds.install_hint(api)))
    return out


def _gateway_check(facts: ClusterFacts, cluster: InferenceCluster, ref: GatewayRef) -> Check:
    if facts.gateway is None:
        return Check("gateway", "fail", f"Gateway {ref.namespace}/{ref.name} does not exist",
                     f"kubectl create namespace {ref.namespace}; then kubectl apply -f a Gateway named {ref.name} in "
                     f"{ref.namespace} whose listener allows routes from all namespaces (allowedRoutes.namespaces.from: All; "
                     "the manifest is in docs/kubernetes.md) with gatewayClassName from kubectl get gatewayclass; "
                     f"or point {settings_path(cluster)}.gatewayRef at the Gateway you have")
    address = gateway_address(facts.gateway, cluster)
    if address is None:
        return Check("gateway", "fail", f"Gateway {ref.namespace}/{ref.name} has no address yet",
                     f"kubectl -n {ref.namespace} describe gateway {ref.name}: its implementation must program it")
    return Check("gateway", "ok", f"Gateway {ref.namespace}/{ref.name} answers at {address}")


def _listener_check(facts: ClusterFacts, ref: GatewayRef) -> Check | None:
    """laneway's routes live in `laneway-<namespace>`: some listener must admit other namespaces."""
    if facts.gateway is None:
        return None
    sources = [
        str((((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from")) or "Same")
        for listener in ((facts.gateway.get("spec") or {}).get("listeners") or [])
    ]
    if "All" in sources:
        return Check("gateway routes", "ok", f"Gateway {ref.namespace}/{ref.name} admits routes from all namespaces")
    if "Selector" in sources:
        return Check("gateway routes", "warn", f"Gateway {ref.namespace}/{ref.name} admits routes from namespaces its selector matches",
                     f"check its selector matches the laneway-* namespaces: kubectl -n {ref.namespace} get gateway {ref.name} -o yaml")
    return Check("gateway routes", "fail",
                 f"no listener of Gateway {ref.namespace}/{ref.name} admits routes from other namespaces (allowedRoutes: {', '.join(sources) or 'none'}); "
                 "laneway's routes in laneway-<namespace> would never be attached",
                 f"kubectl -n {ref.namespace} patch gateway {ref.name} --type json -p "
                 "'[{\"op\": \"add\", \"path\": \"/spec/listeners/0/allowedRoutes\", \"value\": {\"namespaces\": {\"from\": \"All\"}}}]'")


def _inference_gateway_check(facts: ClusterFacts, ref: GatewayRef) -> Check | None:
    """PrefillDecode routes to an InferencePool: the Gateway's implementation must support it."""
    if facts.gateway is None:
        return None
    class_name = (facts.gateway.get("spec") or {}).get("gatewayClassName")
    controller = str(((facts.gateway_class or {}).get("spec") or {}).get("controllerName") or "")
    fix = ("use a Gateway whose implementation routes to InferencePools (Istio, kgateway, GKE Gateway, NGINX Gateway Fabric; "
           "docs/kubernetes.md) and point spec.cluster.existing.gatewayRef at it: kubectl get gatewayclass -o wide")
    if controller in INFERENCE_POOL_CONTROLLERS:
        return Check("gateway inference", "ok", f"GatewayClass {class_name} is {INFERENCE_POOL_CONTROLLERS[controller]}, which routes to InferencePools")
    if controller in NO_INFERENCE_POOL_CONTROLLERS:
        return Check("gateway inference", "fail",
                     f"GatewayClass {class_name} is {NO_INFERENCE_POOL_CONTROLLERS[controller]}, which does not route to InferencePool "
                     "backends: PrefillDecode replicas would never be reachable", fix)
    return Check("gateway inference", "warn",
                 f"GatewayClass {class_name or '?'} ({controller or 'not readable'}) is not an implementation laneway knows to route "
                 "to InferencePools", fix)


def _dynamo_checks(facts: ClusterFacts, queue: str) -> list[Check]:
    """Grove's operator runs and the KAI queue exists (their APIs are checked with the others)."""
    out = []
    if "grove.io/v1alpha1" in facts.served:
        ready = int((((facts.grove_operator or {}).get("status") or {}).get("readyReplicas")) or 0)
        out.append(
            Check("grove operator", "ok", f"Grove's operator runs ({ready} ready)") if ready else
            Check("grove operator", "fail", f"Deployment {GROVE_NAMESPACE}/{GROVE_OPERATOR} is missing or has no ready replica: "
                  "PodCliqueSets would be accepted and never make pods", kinds.install_hint("grove.io/v1alpha1"))
        )
    if "scheduling.run.ai/v2" in facts.served:
        out.append(
            Check("kai queue", "ok", f"KAI queue {queue} exists") if facts.kai_queue is not None else
            Check("kai queue", "fail", f"the KAI Scheduler has no Queue {queue}: its pods would stay Pending",
                  f"kubectl apply -f a Queue (scheduling.run.ai/v2) named {queue}, or set spec.cluster.existing.kaiQueue to one "
                  "you have: kubectl get queues")
        )
    return out


def _lws_controller_check(facts: ClusterFacts) -> Check | None:
    if "leaderworkerset.x-k8s.io/v1" not in facts.served:
        return None
    fix = ("install (or repair) LeaderWorkerSet's controller: kubectl apply --server-side -f "
           f"https://github.com/kubernetes-sigs/lws/releases/latest/download/manifests.yaml; then kubectl -n {LWS_NAMESPACE} get pods")
    if facts.lws_controller is None:
        return Check("lws controller", "fail",
                     f"the LeaderWorkerSet CRD is installed but Deployment {LWS_NAMESPACE}/{LWS_CONTROLLER} is not there: "
                     "LeaderWorkerSets would be accepted and never make pods", fix)
    ready = int(((facts.lws_controller.get("status") or {}).get("readyReplicas")) or 0)
    if ready < 1:
        return Check("lws controller", "fail", f"Deployment {LWS_NAMESPACE}/{LWS_CONTROLLER} has no ready replica", fix)
    return Check("lws controller", "ok", f"the LeaderWorkerSet controller runs ({ready} ready)")


def _labels(node: Mapping[str, Any]) -> Mapping[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def published_devices(slices: Sequence[Mapping[str, Any]], node: str, driver: str) -> int:
    """Devices `driver` publishes on `node`, counting each resource pool's newest generation only."""
    newest: dict[str, int] = {}
    for s in slices:
        spec = s.get("spec") or {}
        if spec.get("nodeName") == node and spec.get("driver") == driver:
            pool = str((spec.get("pool") or {}).get("name") or "")
            newest[pool] = max(newest.get(pool, 0), int((spec.get("pool") or {}).get("generation") or 0))
    return sum(
        len((s.get("spec") or {}).get("devices") or [])
        for s in slices
        if (s.get("spec") or {}).get("nodeName") == node and (s.get("spec") or {}).get("driver") == driver
        and int(((s.get("spec") or {}).get("pool") or {}).get("generation") or 0)
        == newest.get(str(((s.get("spec") or {}).get("pool") or {}).get("name") or ""), 0)
    )


def _pool_checks(facts: ClusterFacts, cluster: InferenceCluster, classes: Mapping[str, InferenceClass], settings: ClusterSettings) -> list[Check]:
    out = []
    for pool in cluster.spec.node_pools:
        if pool.role == "System":
            continue
        selector = settings.pool_selector(pool.name)
        shown = ",".join(f"{k}={v}" for k, v in selector.items())
        nodes = [n for n in facts.nodes if all(_labels(n).get(k) == v for k, v in selector.items())]
        names = sorted(str(n["metadata"]["name"]) for n in nodes)
        label_fix = (
            f"kubectl label node NODE {shown} (for each of the pool's {pool.published_nodes} node(s); see the labels with "
            f"kubectl get nodes -L {','.join(selector)}), or name the labels the pool's nodes have in nodePools[].nodeSelector "
            f"or {settings_path(cluster)}.nodePoolLabel"
        )
        if not nodes:
            out.append(Check(f"pool {pool.name}", "fail", f"no node is labelled {shown}", label_fix))
            continue
        declared = pool.published_nodes
        status: CheckStatus = "ok" if len(nodes) >= declared else "warn"
        out.append(Check(f"pool {pool.name}", status, f"{len(nodes)} node(s) labelled {shown} (declared {declared})",
                         "" if status == "ok" else
                         f"kubectl label node NODE {shown} on {declared - len(nodes)} more node(s), "
                         f"or lower the pool's nodeCount to {len(nodes)} and laneway apply -f the InferenceCluster"))
        cls = classes.get(pool.class_name)
        if cls is None:
            out.append(Check(f"pool {pool.name} devices", "fail", f"InferenceClass {pool.class_name!r} is not known",
                             f"laneway apply -f FILE with the InferenceClass {pool.class_name} (or pass that file to this check with -f)"))
            continue
        for device in cls.spec.devices:
            if device.claim != "DRA":
                continue
            if device.device_class_name and facts.device_classes and device.device_class_name not in facts.device_classes:
                out.append(Check(
                    f"pool {pool.name} device class", "fail",
                    f"class {cls.name} claims {device.name} devices with DeviceClass {device.device_class_name}, which does not exist",
                    f"{dra_driver_hint(device.driver)} (it creates its DeviceClasses); see them with kubectl get deviceclasses",
                ))
            short = [f"{name} ({n})" for name in names if (n := published_devices(facts.slices, name, device.driver)) < device.count]
            if short:
                out.append(Check(
                    f"pool {pool.name} devices", "fail",
                    f"class {cls.name} declares {device.count} {device.name} device(s) per node from driver {device.driver}, "
                    f"but ResourceSlices publish fewer on: {', '.join(short)}",
                    f"{dra_driver_hint(device.driver)}; see what each node publishes with kubectl get resourceslices -o wide",
                ))
            else:
                out.append(Check(f"pool {pool.name} devices", "ok",
                                 f"{device.count} {device.name} device(s) from {device.driver} published on every pool node"))
    return out


def _storage_check(facts: ClusterFacts, cluster: InferenceCluster) -> Check:
    name = cache_settings(cluster).storage_class
    fix_name = (f"set {settings_path(cluster)}.cache.storageClassName to a class that provisions ReadWriteMany volumes "
                "(Filestore on GKE, EFS on EKS, Azure Files on AKS, NFS or CephFS elsewhere): kubectl get storageclass")
    if name is None:
        return Check("cache storage", "warn", "no storage class is named for ModelCaches: caches cannot be staged on this cluster", fix_name)
    if facts.storage_class is None:
        return Check("cache storage", "fail", f"StorageClass {name} does not exist", fix_name)
    provisioner = str(facts.storage_class.get("provisioner") or "")
    if not any(provisioner == p or provisioner.endswith(p) for p in RWX_PROVISIONERS):
        return Check("cache storage", "warn",
                     f"StorageClass {name} uses provisioner {provisioner}, not one laneway knows to provision ReadWriteMany volumes",
                     f"check it does, or {fix_name}")
    return Check("cache storage", "ok", f"StorageClass {name} ({provisioner}) provisions ReadWriteMany volumes")


# How to install the DRA drivers laneway users meet most, for the devices check's fix line.
DRA_DRIVER_INSTALL = {
    "gpu.nvidia.com": (
        "install NVIDIA's DRA driver with GPU allocation on (chart v25.8.0 and later refuse it while NVIDIA's device plugin "
        "also hands out GPUs: disable that first, e.g. --set devicePlugin.enabled=false on the GPU Operator): "
        "helm repo add nvidia https://helm.ngc.nvidia.com/nvidia && helm install nvidia-dra-driver-gpu "
        "nvidia/nvidia-dra-driver-gpu --namespace nvidia-dra-driver-gpu --create-namespace "
        "--set resources.gpus.enabled=true --set gpuResourcesEnabledOverride=true "
        "(on GKE, create the GPU node pool with --accelerator type=TYPE,count=N,gpu-driver-version=disabled and install "
        "the NVIDIA driver yourself, so GKE's device plugin does not claim the GPUs)"
    ),
}


def dra_driver_hint(driver: str) -> str:
    return DRA_DRIVER_INSTALL.get(driver, f"install (or fix) the DRA driver {driver} on those nodes, following its vendor's instructions")


def _access_check(facts: ClusterFacts) -> Check:
    return Check(
        "access", "fail", f"the API refused a read laneway needs: {facts.read_error}",
        "grant the kubeconfig's user the rights in docs/kubernetes.md (\"What laneway's credentials need\"); check with "
        "kubectl --kubeconfig FILE auth can-i list nodes (and list resourceslices, get gateways -n laneway-system)",
    )


def evaluate(
    facts: ClusterFacts,
    cluster: InferenceCluster,
    classes: Mapping[str, InferenceClass],
    *,
    needs_inference: bool = False,
) -> list[Check]:
    out = api_checks(facts, needs_inference=needs_inference, stack=cluster.spec.stack or "Standard")
    if facts.error:
        return out
    if facts.read_error:
        return [*out, _access_check(facts)]
    try:
        settings = cluster_settings(cluster)
    except RenderError as error:
        return [*out, Check("settings", "fail", str(error), "fix the field it names and laneway apply -f the InferenceCluster")]
    note = stack_note(cluster, settings)
    if note is not None:
        out += _dynamo_checks(facts, settings.kai_queue)
        out.append(Check("stack", "warn", note, "nothing to run: laneway does not compose ModelExpress yet (docs/kubernetes.md)"))
    lws = _lws_controller_check(facts) if settings.stack == "Standard" else None
    if lws is not None:
        out.append(lws)
    out.append(_gateway_check(facts, cluster, settings.gateway))
    for extra in (_listener_check(facts, settings.gateway), _inference_gateway_check(facts, settings.gateway) if needs_inference else None):
        if extra is not None:
            out.append(extra)
    out += _pool_checks(facts, cluster, classes, settings)
    out.append(_storage_check(facts, cluster))
    return out


def failed(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]
