"""Registers the `Existing` cluster source: a Kubernetes cluster laneway does not provision,
reached with the kubeconfig in the Secret its InferenceCluster names."""

from __future__ import annotations

from laneway.drivers.base import Driver
from laneway.drivers.registry import DriverContext, register_source


def _driver(context: DriverContext) -> Driver | None:
    if context.store is None:
        return None  # its kubeconfig Secrets live in the store: a process without one cannot connect
    from laneway.drivers.kubernetes.driver import (
        KubernetesDriver,  # the client and schemas: loaded when first used
    )

    return KubernetesDriver(store=context.store)


register_source("Existing", driver=_driver)
