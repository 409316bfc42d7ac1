"""How `laneway cluster plan` prints a provisioning plan: one table per cluster, and JSON."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.cli.output import render_table
from laneway.drivers.provisioners.plan import ClusterPlan, PoolPlan


def _money(amount: float | None, currency: str) -> str:
    return "-" if amount is None else f"{amount:.2f} {currency}/h"


def _accelerators(pool: PoolPlan) -> str:
    return f"{pool.accelerators_per_node} x {pool.accelerator}" if pool.accelerator else "-"


def _counts(pool: PoolPlan) -> str:
    if pool.min_node_count == pool.max_node_count == pool.node_count:
        return str(pool.node_count)
    return f"{pool.node_count} ({pool.min_node_count}-{pool.max_node_count})"


def render_cluster_plans(plans: Sequence[ClusterPlan]) -> str:
    blocks = []
    for plan in plans:
        where = f" in {plan.region}" if plan.region else ""
        lines = [f"cluster {plan.cluster}: {plan.provider}{where}, {len(plan.pools)} node pool{'s' if len(plan.pools) != 1 else ''}"]
        rows = [
            [p.name, p.role, p.class_name or "-", p.machine, _accelerators(p), _counts(p), _money(p.hourly, p.currency), _money(p.hourly_at_max, p.currency)]
            for p in plan.pools
        ]
        table = render_table(rows, ["POOL", "ROLE", "CLASS", "MACHINE", "ACCELERATORS", "NODES", "PER HOUR", "AT MAX"])
        lines += ["  " + line for line in table.splitlines()]
        lines.append(f"  total: {_money(plan.hourly, plan.currency)} at declared counts, {_money(plan.hourly_at_max, plan.currency)} at max")
        if plan.unpriced:
            lines.append(f"  unpriced (no pricing on their class): {', '.join(plan.unpriced)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def cluster_plan_json(plan: ClusterPlan) -> dict[str, object]:
    return {
        "cluster": plan.cluster,
        "provider": plan.provider,
        "region": plan.region,
        "currency": plan.currency,
        "hourly": plan.hourly,
        "hourlyAtMax": plan.hourly_at_max,
        "pools": [
            {
                "name": p.name,
                "role": p.role,
                "className": p.class_name,
                "machine": p.machine,
                "accelerator": p.accelerator,
                "acceleratorsPerNode": p.accelerators_per_node,
                "nodeCount": p.node_count,
                "minNodeCount": p.min_node_count,
                "maxNodeCount": p.max_node_count,
                "perNodeHour": p.per_node_hour,
                "hourly": p.hourly,
                "hourlyAtMax": p.hourly_at_max,
            }
            for p in plan.pools
        ],
    }
