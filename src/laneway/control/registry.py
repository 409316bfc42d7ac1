"""Every controller `laneway up` (or a separate control-plane process) runs, in one list.

Adding a controller is one import and one line in `build_controllers`. Each controller gets
the same explicit `ControlContext` and takes from it what it needs; nothing is read from
globals, so a test builds exactly the controllers it wants.
"""

from __future__ import annotations

from laneway.control.autoscaler import AutoscalerController
from laneway.control.base import ControlContext, Controller
from laneway.control.budget import BudgetController
from laneway.control.cache import CacheController
from laneway.control.cluster import ClusterController
from laneway.control.deployment import BatchedDeploymentController, DeploymentController
from laneway.control.economics import EconomicsController
from laneway.control.gc import GarbageCollector
from laneway.control.quality import QualityController
from laneway.control.replica import ReplicaController
from laneway.control.rollout import RolloutController
from laneway.control.ticket import TicketController


def build_controllers(ctx: ControlContext) -> list[Controller]:
    """The controllers of this laneway build, in no particular order (they run side by side)."""
    controllers: list[Controller] = [
        GarbageCollector(ctx.store),
        BatchedDeploymentController(ctx) if ctx.plan_in_batches else DeploymentController(ctx),
        TicketController(ctx),
        RolloutController(ctx),
        CacheController(ctx),
        AutoscalerController(ctx),
        BudgetController(ctx),
        EconomicsController(ctx),
        QualityController(ctx),
    ]
    if ctx.drivers is not None:
        controllers += [ClusterController(ctx, ctx.drivers), ReplicaController(ctx, ctx.drivers)]
    return controllers
