"""`laneway scale`: set a ModelDeployment's replicas through its scale subresource."""

from __future__ import annotations

import click

from laneway.cli.context import connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import namespace_for, one_kind, ref

SCALABLE = ("ModelDeployment",)


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="How many replicas to run (0 stops them all).")
@namespace_option
@connection_options
@click.pass_context
def scale(ctx: click.Context, kind: str, name: str, replicas: int, namespace: str | None) -> None:
    """Set the replicas of a ModelDeployment: `laneway scale md NAME --replicas N`.

    With autoscaling on, the autoscaler keeps the count within minReplicas..maxReplicas.
    """
    info = one_kind(kind)
    if info.kind not in SCALABLE:
        raise Failure(f"{info.kind} cannot be scaled; only {', '.join(SCALABLE)} (md) has replicas", EXIT_USAGE)
    client = open_client(ctx)
    client.scale(info.kind, name, replicas, namespace=namespace_for(info, namespace))
    click.echo(f"{ref(info, name)} scaled to {replicas}")
