"""Is an Existing cluster fit to run replicas? The checks an operator needs before trusting it.

`gather(conn, cluster)` reads the facts (blocking I/O: run it in a thread from async code);
`evaluate(facts, cluster, classes)` is pure and returns one `Check` per question, each failed
one saying what to install or label, with the command:

1. the API answers (and with which Kubernetes version; 1.34 or later is needed);
2. `resource.k8s.io/v1` (DRA) is served;
3. LeaderWorkerSet, the Gateway API, and (only when a PrefillDecode replica needs it) the
   Inference Extension are installed;
4. the cluster's Gateway exists and has an address;
5. every declared GPU pool has nodes labelled `laneway.dev/pool=<pool>`, as many as declared;
6. the DRA devices the pool's InferenceClass declares are published in ResourceSlices on
   those nodes, by the class's driver, at least `count` per node.

`healthy` (the InferenceCluster's Ready) needs 1-3 only: the rest is reported by the check
command, not held against a cluster that serves what it has. A read the kubeconfig's user is
not allowed (403) is its own failed check ("access"), naming the RBAC to grant, rather than
making the whole API look unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.drivers.kubernetes import kinds
from laneway.drivers.kubernetes.connection import KubeConnection
from laneway.drivers.kubernetes.errors import ClusterUnavailable, KubeApiError
from laneway.drivers.kubernetes.naming import POOL_LABEL, GatewayRef, gateway_ref

MIN_MINOR = 34
REQUIRED_APIS = ("resource.k8s.io/v1", "leaderworkerset.x-k8s.io/v1", "gateway.networking.k8s.io/v1")
INFERENCE_API = "inference.networking.k8s.io/v1"

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
    nodes: tuple[Mapping[str, Any], ...] = ()
    slices: tuple[Mapping[str, Any], ...] = ()


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
    gateway: Mapping[str, Any] | None = None
    nodes: tuple[Mapping[str, Any], ...] = ()
    slices: tuple[Mapping[str, Any], ...] = ()
    try:
        if "gateway.networking.k8s.io/v1" in served:
            gateway = conn.find(kinds.GATEWAY, ref.name, namespace=ref.namespace)
        nodes = tuple(conn.list(kinds.NODE, selector=POOL_LABEL))
        slices = tuple(conn.list(kinds.RESOURCE_SLICE)) if "resource.k8s.io/v1" in served else ()
    except ClusterUnavailable as error:
        return ClusterFacts(error=str(error))
    except KubeApiError as error:
        return ClusterFacts(version=version, served=served, gateway=gateway, nodes=nodes, read_error=str(error))
    return ClusterFacts(version=version, served=served, gateway=gateway, nodes=nodes, slices=slices)


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
    http = next((l for l in listeners if l.get("protocol") in ("HTTP", "HTTPS")), None)
    scheme = "https" if http and http.get("protocol") == "HTTPS" else "http"
    port = int(http.get("port")) if http and http.get("port") else (443 if scheme == "https" else 80)
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _minor(version: Mapping[str, Any]) -> int | None:
    text = str(version.get("minor") or "").rstrip("+")
    return int(text) if text.isdigit() else None


def api_checks(facts: ClusterFacts, *, needs_inference: bool = False) -> list[Check]:
    """Checks 1-3: reachable, version, required APIs."""
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
    wanted = [*REQUIRED_APIS, *([INFERENCE_API] if needs_inference else [])]
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
                     "or point spec.cluster.existing.gatewayRef at the Gateway you have")
    address = gateway_address(facts.gateway, cluster)
    if address is None:
        return Check("gateway", "fail", f"Gateway {ref.namespace}/{ref.name} has no address yet",
                     f"kubectl -n {ref.namespace} describe gateway {ref.name}: its implementation must program it")
    return Check("gateway", "ok", f"Gateway {ref.namespace}/{ref.name} answers at {address}")


def _pool_checks(facts: ClusterFacts, cluster: InferenceCluster, classes: Mapping[str, InferenceClass]) -> list[Check]:
    out = []
    for pool in cluster.spec.node_pools:
        if pool.role == "System":
            continue
        nodes = [n for n in facts.nodes if ((n.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL) == pool.name]
        names = sorted(str(n["metadata"]["name"]) for n in nodes)
        if not nodes:
            out.append(Check(f"pool {pool.name}", "fail", f"no node is labelled {POOL_LABEL}={pool.name}",
                             f"kubectl label node NODE {POOL_LABEL}={pool.name} (for each of the pool's {pool.published_nodes} "
                             f"node(s); see the labels with kubectl get nodes -L {POOL_LABEL})"))
            continue
        declared = pool.published_nodes
        status: CheckStatus = "ok" if len(nodes) >= declared else "warn"
        out.append(Check(f"pool {pool.name}", status, f"{len(nodes)} node(s) labelled {POOL_LABEL}={pool.name} (declared {declared})",
                         "" if status == "ok" else
                         f"kubectl label node NODE {POOL_LABEL}={pool.name} on {declared - len(nodes)} more node(s), "
                         f"or lower the pool's nodeCount to {len(nodes)} and laneway apply -f the InferenceCluster"))
        cls = classes.get(pool.class_name)
        if cls is None:
            out.append(Check(f"pool {pool.name} devices", "fail", f"InferenceClass {pool.class_name!r} is not known",
                             f"laneway apply -f FILE with the InferenceClass {pool.class_name} (or pass that file to this check with -f)"))
            continue
        for device in cls.spec.devices:
            if device.claim != "DRA":
                continue
            short = []
            for name in names:
                published = sum(
                    len((s.get("spec") or {}).get("devices") or [])
                    for s in facts.slices
                    if (s.get("spec") or {}).get("nodeName") == name and (s.get("spec") or {}).get("driver") == device.driver
                )
                if published < device.count:
                    short.append(f"{name} ({published})")
            if short:
                out.append(Check(
                    f"pool {pool.name} devices", "fail",
                    f"class {cls.name} declares {device.count} {device.name} device(s) per node from driver {device.driver}, "
                    f"but ResourceSlices publish fewer on: {', '.join(short)}",
                    f"{dra_driver_hint(device.driver)}; see what each node publishes with kubectl get resourceslices -o wide",
                ))
            else:
                out.append(Check(f"pool {pool.name} devices", "ok",
                                 f"{device.count} {device.name} device(s) from {device.driver} published on every labelled node"))
    return out


# How to install the DRA drivers laneway users meet most, for the devices check's fix line.
DRA_DRIVER_INSTALL = {
    "gpu.nvidia.com": (
        "install NVIDIA's DRA driver: helm repo add nvidia https://helm.ngc.nvidia.com/nvidia && "
        "helm install nvidia-dra-driver-gpu nvidia/nvidia-dra-driver-gpu --namespace nvidia-dra-driver-gpu --create-namespace"
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
    out = api_checks(facts, needs_inference=needs_inference)
    if facts.error:
        return out
    if facts.read_error:
        return [*out, _access_check(facts)]
    out.append(_gateway_check(facts, cluster, gateway_ref(cluster)))
    out += _pool_checks(facts, cluster, classes)
    return out


def failed(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]
