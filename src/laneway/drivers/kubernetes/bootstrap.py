"""What a cluster laneway provisioned needs before replicas can be placed on it, installed by
laneway from pinned, validated manifests.

`addons(cluster)` is pure: the add-ons for the cluster's provider, each a named, versioned set
of objects. `install(conn, addons)` checks every manifest's pin and schema before sending
anything, then server-side applies them (idempotent, field manager `laneway`).

The add-ons:

- **LeaderWorkerSet API** (`leaderworkerset.x-k8s.io/v1`), **Gateway API** (GatewayClass,
  Gateway, HTTPRoute at bundle v1.5.1) and the **Gateway API Inference Extension**
  (InferencePool, InferenceObjective at v1.0.1, for PrefillDecode): the upstream CRDs bundled
  under `schemas/` (the copies `tests/unit/kubernetes/test_kube_schemas.py` compares with
  the upstream files), each pinned here by SHA-256 so a changed file is refused rather than
  installed. On GKE the Gateway API CRDs and their implementation are GKE's own (the GKE
  provisioner enables `gatewayApiConfig`), so laneway installs neither there.
- **laneway's Gateway**: the namespace `laneway-system` and the Gateway routes attach to
  (`laneway-system/laneway`, or the provider block's `gatewayRef`), of its `gatewayClassName` (on GKE, by default GKE's
  `gke-l7-regional-external-managed`, which routes to InferencePools). Without a class (EKS
  without `gatewayClassName`) no Gateway is created and `laneway cluster check` says so.

What it does not install: the controllers that run from upstream release bundles laneway does
not ship (the LeaderWorkerSet controller, the NVIDIA DRA driver, a Gateway implementation off
GKE). `laneway cluster check` reports each one missing with the command that installs it, as
for Existing clusters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import SYSTEM_NAMESPACE
from laneway.drivers.kubernetes.connection import KubeConnection
from laneway.drivers.kubernetes.errors import InvalidRendered, RenderError
from laneway.drivers.kubernetes.naming import gateway_ref
from laneway.drivers.kubernetes.validation import SCHEMA_PACKAGE, bundled_crd, validate_objects
from laneway.drivers.provisioners.plan import provider_block

PINNED: Mapping[str, str] = {
    "leaderworkersets.leaderworkerset.x-k8s.io.json": "ee82738cb26c01c66af006de06ebdad4bed2bfc57a52fe0d09e8b85ffbbed7dc",
    "gatewayclasses.gateway.networking.k8s.io.json": "8c1c9ba5eeada22d103e07ad8976a5ce87f1decc83b6844ac35b9131e90b6443",
    "gateways.gateway.networking.k8s.io.json": "11e9b65d4cee7c669a63309cc34de97ad809db7c038608667c72b80950e4fd47",
    "httproutes.gateway.networking.k8s.io.json": "8c06c2a2031a9d8b67bc6232f908b47b5194495e0ccce8c2abc94d8a60d00795",
    "inferencepools.inference.networking.k8s.io.json": "72398ef2333863de5d335ddf0076e2f7b1ab590b4992ad03b8711dae9421df6a",
    "inferenceobjectives.inference.networking.x-k8s.io.json": "4746badfdb7d628d6c29deb41c0a7b2c043d1d7913654e1efb237ec5b8b16cce",
}
"""SHA-256 of each bundled CRD file bootstrap installs. Updating a CRD under `schemas/` means
updating its pin here, after checking the new file against upstream."""

GKE_GATEWAY_CLASS = "gke-l7-regional-external-managed"


class BootstrapError(RenderError):
    """An add-on manifest failed its pin or its schema; nothing was installed."""


@dataclass(frozen=True)
class AddOn:
    name: str
    version: str
    objects: tuple[dict[str, Any], ...]


def pinned_crd(file_name: str) -> dict[str, Any]:
    """The bundled CRD, after checking its bytes against the pin."""
    expected = PINNED.get(file_name)
    data = resources.files(SCHEMA_PACKAGE).joinpath("schemas").joinpath(file_name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if expected is None or digest != expected:
        raise BootstrapError(
            f"bundled manifest schemas/{file_name} has SHA-256 {digest}, not the pinned {expected}: "
            "it changed since it was checked; restore it, or check it against upstream and update PINNED"
        )
    return bundled_crd(file_name)


def _gateway(cluster: InferenceCluster) -> tuple[dict[str, Any], ...]:
    block = provider_block(cluster)
    given = block.get("gatewayClassName")
    gateway_class = given if isinstance(given, str) and given else (GKE_GATEWAY_CLASS if cluster.spec.cluster.source == "GKE" else "")
    ref = gateway_ref(cluster)
    namespaces = sorted({SYSTEM_NAMESPACE, ref.namespace})
    created = tuple({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces)
    if not gateway_class:
        return created
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": ref.name, "namespace": ref.namespace},
        "spec": {
            "gatewayClassName": gateway_class,
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}],
        },
    }
    return (*created, gateway)


def addons(cluster: InferenceCluster) -> list[AddOn]:
    """The add-ons bootstrap installs on `cluster`, in order (CRDs before objects of their kinds)."""
    out = [AddOn("LeaderWorkerSet API", "v1 (kubernetes-sigs/lws)", (pinned_crd("leaderworkersets.leaderworkerset.x-k8s.io.json"),))]
    if cluster.spec.cluster.source != "GKE":  # GKE installs its own Gateway API with its controller
        gateway_api = ("gatewayclasses", "gateways", "httproutes")
        out.append(AddOn("Gateway API", "v1.5.1", tuple(pinned_crd(f"{p}.gateway.networking.k8s.io.json") for p in gateway_api)))
    out.append(AddOn("Gateway API Inference Extension", "v1.0.1", (
        pinned_crd("inferencepools.inference.networking.k8s.io.json"),
        pinned_crd("inferenceobjectives.inference.networking.x-k8s.io.json"),
    )))
    out.append(AddOn("laneway Gateway", "laneway-system/laneway", _gateway(cluster)))
    return out


def validate_addons(items: Sequence[AddOn]) -> None:
    """Every add-on object valid for the supported Kubernetes versions (CRDs and Namespaces
    against Kubernetes' schemas, the Gateway against its CRD); raises BootstrapError listing
    what is not."""
    try:
        validate_objects([o for a in items for o in a.objects])
    except InvalidRendered as error:
        raise BootstrapError(f"an add-on manifest is invalid: {error}") from None


@dataclass(frozen=True)
class Installed:
    """What one bootstrap pass did: the add-ons applied whole, and the objects that wait for
    their CRD to be served (a CRD takes a moment to be established)."""

    applied: tuple[str, ...]
    waiting: tuple[str, ...]


def install(conn: KubeConnection, items: Sequence[AddOn]) -> Installed:
    """Validate every add-on, then server-side apply the CRDs and namespaces, then the objects
    whose API is served. Blocking: run it in a thread from async code."""
    validate_addons(items)
    first = {"CustomResourceDefinition", "Namespace"}
    for addon in items:
        for obj in addon.objects:
            if obj["kind"] in first:
                conn.apply(obj)
    served = conn.served_group_versions()
    applied: list[str] = []
    waiting: list[str] = []
    for addon in items:
        missing = [o for o in addon.objects if o["kind"] not in first and o["apiVersion"] not in served]
        for obj in addon.objects:
            if obj["kind"] not in first and obj not in missing:
                conn.apply(obj)
        waiting += [f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']} ({o['apiVersion']} is not served yet)" for o in missing]
        if not missing:
            applied.append(f"{addon.name} {addon.version}")
    return Installed(tuple(applied), tuple(waiting))
