"""The fleet scheduler: which cluster and pool each replica of a ModelDeployment runs on.

`plan(deployment, clusters=, classes=, replicas=)` and `plan_fleet(...)` are pure functions of
observed state, with no I/O: same inputs, same answer.

What it promises:
- It never overcommits a pool for a new replica: free nodes are the pool's published nodes
  (maxNodeCount when set, else nodeCount) minus what every replica of every deployment pinned
  there claims; `accounting: Device` pools pack pods by device count instead of whole nodes.
- It never moves a replica. A replica keeps its cluster and pools while the cluster exists,
  still selects it, carries no untolerated NoExecute taint, and the pinned pools still meet the
  (possibly edited) selectors. A NotReady cluster keeps its replicas.
- A bad edit (a selector that does not compile, or that now matches no published class)
  removes nothing: running replicas stay and the condition says why no new ones are placed.
- Spread before pack: a new replica goes to the eligible cluster holding the fewest replicas of
  its deployment (ties by name), at the lowest free index; scale-down removes from the most
  loaded cluster, highest index first.
- All engines of a replica share one cluster, all members of an engine one pool; when the first
  choice of pools does not fit, other assignments are searched before a cluster is called unfit.
- When short, it says why, per cluster and per pool, in terms the ML team can act on.

What it deliberately does not do: fabric or topology awareness (zones and `fabric` are not
considered), preemption or priorities, cost optimization across prices, node-level bin packing
beyond first-fit under device accounting, or rebalancing of running replicas.
"""

from laneway.placement.dra.matcher import DEFAULT_MATCHER, DeviceMatcher
from laneway.placement.model import (
    DeviceClaim,
    EnginePlacement,
    MemberPlacement,
    Placement,
    Reason,
    ReplicaPlacement,
    ScheduledCondition,
)
from laneway.placement.scheduler import plan, plan_fleet

__all__ = [
    "DEFAULT_MATCHER",
    "DeviceClaim",
    "DeviceMatcher",
    "EnginePlacement",
    "MemberPlacement",
    "Placement",
    "Reason",
    "ReplicaPlacement",
    "ScheduledCondition",
    "plan",
    "plan_fleet",
]
