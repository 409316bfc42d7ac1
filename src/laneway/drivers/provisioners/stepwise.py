"""What every cloud provisioner shares: one blocking step per call, run in a worker thread
under per-cluster backoff, with minted kubeconfigs forgotten once a cluster is released.

Providers differ in their SDK and their order of steps, not in this loop, so a provisioner
supplies only `_converge` (one step towards the plan), `_delete_step` (one step of teardown),
the SDK's error types and how to say one of them without leaking a credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.drivers.provisioners.kubeconfigs import MintedKubeconfigs
from laneway.drivers.provisioners.plan import ClusterPlan, PlanError, plan_cluster
from laneway.drivers.provisioners.retry import Retrying
from laneway.drivers.provisioning import ProvisionState
from laneway.store.base import Store


@dataclass
class StepwiseProvisioner:
    """The `ensure`/`release` half of a `Provisioner`, over a provider's blocking steps."""

    store: Store
    clock: Callable[[], float] = time.monotonic
    _retrying: Retrying = field(init=False)
    _kubeconfigs: MintedKubeconfigs = field(init=False)

    def __post_init__(self) -> None:
        self._kubeconfigs = MintedKubeconfigs(clock=self.clock)
        self._retrying = Retrying(errors=self._provider_errors(), describe=self._describe_error, clock=self.clock)

    def _provider_errors(self) -> tuple[type[Exception], ...]:
        """The SDK's exceptions a step may raise, reported and retried with backoff."""
        raise NotImplementedError

    def _describe_error(self, error: Exception) -> str:
        """The provider's own message for `error`, with no credential in it."""
        raise NotImplementedError

    def _converge(self, cluster: InferenceCluster, plan: ClusterPlan) -> ProvisionState:
        """One step towards `plan` (runs in a worker thread; never waits for the provider)."""
        raise NotImplementedError

    def _delete_step(self, cluster: InferenceCluster) -> ProvisionState:
        """One step of teardown, in dependency order (runs in a worker thread)."""
        raise NotImplementedError

    def _classes(self) -> dict[str, InferenceClass]:
        return {c.name: c for c in self.store.list(InferenceClass).items}

    async def ensure(self, cluster: InferenceCluster) -> ProvisionState:
        try:
            plan = plan_cluster(cluster, self._classes())
        except PlanError as error:
            return ProvisionState("Failed", str(error))
        return await self._retrying.run(cluster.name, lambda: self._converge(cluster, plan))

    async def release(self, cluster: InferenceCluster) -> ProvisionState:
        self._kubeconfigs.forget(cluster.name)
        return await self._retrying.run(cluster.name, lambda: self._delete_step(cluster))
