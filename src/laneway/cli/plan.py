"""`laneway plan`: run the fleet scheduler offline on manifests and show where replicas would go.

Nothing is sent anywhere. Clusters count as Ready with a gateway address unless their
manifest's `status` says otherwise, so a platform team can check a fleet description before
applying it. Existing ModelReplicas in the input are retained as the live scheduler would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import (
    InferenceClass,
    InferenceCluster,
    ModelDeployment,
    ModelReplica,
)
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.api.labels import REPLICA_INDEX_LABEL as INDEX_LABEL
from laneway.api.manifest import load_paths
from laneway.api.meta import Condition, Resource
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.output import render_table
from laneway.placement import Placement, plan_fleet
from laneway.placement.compose import placement_json
from laneway.placement.gc_pause import collection_paused

OFFLINE_GATEWAY = "offline"


def assume_ready(cluster: InferenceCluster) -> InferenceCluster:
    """A cluster as `plan` sees it: Ready and with a gateway unless its status says otherwise."""
    status = cluster.status
    conditions = list(status.conditions)
    if not any(c.type == "Ready" for c in conditions):
        conditions.append(Condition(type="Ready", status="True", reason="AssumedByPlan"))
    gateway = status.gateway
    if not gateway.address:
        gateway = gateway.model_copy(update={"address": OFFLINE_GATEWAY})
    return cluster.model_copy(update={"status": status.model_copy(update={"conditions": conditions, "gateway": gateway})})


def _with_namespace(obj: Resource) -> Resource:
    if obj.metadata.namespace:
        return obj
    return obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"namespace": "default"})})


def run_plan(resources: Sequence[Resource]) -> list[Placement]:
    """Split loaded manifests by kind and plan every deployment (pure apart from its input)."""
    clusters = [assume_ready(r) for r in resources if isinstance(r, InferenceCluster)]
    classes = [r for r in resources if isinstance(r, InferenceClass)]
    replicas = [_with_namespace(r) for r in resources if isinstance(r, ModelReplica)]
    deployments = [_with_namespace(r) for r in resources if isinstance(r, ModelDeployment)]
    seen: set[tuple[str, str, str]] = set()
    for r in [*clusters, *classes, *replicas, *deployments]:
        ident = (r.kind, r.namespace, r.name)
        if ident in seen:
            raise Failure(f"{r.kind} {r.key} appears more than once in the input; keep one definition", EXIT_USAGE)
        seen.add(ident)
    if not deployments:
        raise Failure("no ModelDeployment in the input: pass the deployments to plan with -f", EXIT_USAGE)
    for r in replicas:
        labels = r.metadata.labels
        index = labels.get(INDEX_LABEL)
        if labels.get(DEPLOYMENT_LABEL) and (index is None or not index.isdigit()):
            raise Failure(
                f"ModelReplica {r.key} belongs to deployment {labels[DEPLOYMENT_LABEL]!r} (label {DEPLOYMENT_LABEL}) but its "
                f"{INDEX_LABEL} label is {'missing' if index is None else repr(index)}: set it to the replica's index, "
                "a whole number such as '0', so the plan can keep it in place",
                EXIT_USAGE,
            )
    return plan_fleet(deployments, clusters=clusters, classes=classes, replicas=replicas)  # type: ignore[arg-type]


def render_plan_table(placements: Sequence[Placement]) -> str:
    blocks = []
    for p in placements:
        c = p.condition
        head = f"{p.deployment}: {len(p.replicas)} of {p.wanted} replicas placed ({c.reason})"
        rows = []
        for r in p.replicas:
            for e in r.engines:
                for m in e.members:
                    devices = ", ".join(f"{d.name}: {d.count} x {d.device_class_name}" for d in m.device_requests) or "-"
                    rows.append([str(r.index), r.cluster + (" (kept)" if r.retained else ""), e.name, m.role, m.pool, devices])
        lines = [head]
        if rows:
            table = render_table(rows, ["INDEX", "CLUSTER", "ENGINE", "ROLE", "POOL", "DEVICES"])
            lines += ["  " + line for line in table.splitlines()]
        if p.removed:
            lines.append("  removes replica indexes: " + ", ".join(str(i) for i in p.removed))
        if p.reasons:
            lines.append("  why not more:" if p.short else "  notes:")
            lines += [f"    - {r.text()}" for r in p.reasons]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


@click.command("plan")
@click.option("-f", "--filename", "paths", multiple=True, required=True, help="Manifest file, directory, or - for stdin (repeatable).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plan(paths: tuple[str, ...], output: str) -> None:
    """Show where the scheduler would place each ModelDeployment's replicas, offline.

    Exits 0 with a plan even when replicas are short (the reasons say why), 2 on invalid input.
    """
    # The whole command builds one acyclic heap (documents, resources, plans) and exits: the
    # cyclic collector would only walk it again and again as it grows (a quarter of the CPU of
    # a thousand-cluster fleet), and reference counting frees all of it anyway.
    with collection_paused():
        try:
            resources = load_paths(paths)
        except InvalidManifests as e:
            n = len(e.errors)
            raise Failure(f"{n} invalid manifest{'s' if n != 1 else ''}; nothing was planned\n{e}", EXIT_USAGE) from None
        placements = run_plan(resources)
        if output == "json":
            click.echo(json.dumps({"deployments": [placement_json(p) for p in placements]}, indent=2))
        else:
            click.echo(render_plan_table(placements))
