"""Driving a provisioner by hand, one `ensure` (or `release`) at a time, as the InferenceCluster
controller would between requeues: the EKS and GKE tests share it, so both judge their cloud
by the same rule (the phase reached within a bounded number of steps, every state seen kept)."""

from __future__ import annotations

import asyncio

from laneway.api.kinds import InferenceCluster
from laneway.drivers.provisioning import Provisioner, ProvisionPhase, ProvisionState

STEPS = 30
"""Enough reconciles for the fakes' slowest operation; a provisioner stuck short of it fails."""


def converge(provisioner: Provisioner, cluster: InferenceCluster, *, until: ProvisionPhase,
             release: bool = False) -> list[ProvisionState]:
    """The states `provisioner` reports for `cluster` until one is in phase `until`."""
    seen: list[ProvisionState] = []
    for _ in range(STEPS):
        state = asyncio.run(provisioner.release(cluster) if release else provisioner.ensure(cluster))
        seen.append(state)
        if state.phase == until:
            return seen
    raise AssertionError(f"never reached {until}: {seen}")
