"""Registers the cloud sources laneway provisions: `EKS` (boto3) and `GKE`
(google-cloud-container). Each becomes a `ProvisionedDriver`: the provider's provisioner in
front of the Kubernetes driver. AKS, Nebius and Vultr stay unregistered, so their clusters say
NotProvisioned and name the seam (`laneway.drivers.provisioning`).

`provisioner_for` builds a provider's provisioner over any store, for what needs one outside
the controller (`laneway cluster check` reading a provisioned cluster's kubeconfig)."""

from __future__ import annotations

from laneway.drivers.provisioning import Provisioner, register_provisioned_source
from laneway.drivers.registry import DriverContext
from laneway.store.base import Store

PROVISIONED = ("EKS", "GKE")
"""The cloud sources this build provisions."""


def provisioner_for(source: str, store: Store) -> Provisioner | None:
    """The provisioner of `source` reading Secrets and classes from `store`; None when this
    build provisions no such source."""
    if source == "EKS":
        from laneway.drivers.provisioners.eks import EksProvisioner

        return EksProvisioner(store=store)
    if source == "GKE":
        from laneway.drivers.provisioners.gke import GkeProvisioner

        return GkeProvisioner(store=store)
    return None


def _register(source: str) -> None:
    def build(context: DriverContext) -> Provisioner:
        assert context.store is not None  # register_provisioned_source builds no driver without one
        made = provisioner_for(source, context.store)
        assert made is not None
        return made

    register_provisioned_source(source, build)


for _source in PROVISIONED:
    _register(_source)
