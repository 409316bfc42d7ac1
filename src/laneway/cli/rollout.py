"""`laneway rollout`: a ModelDeployment's revision history, and undoing to a revision.

The history is what the rollout controller records (see `laneway.ticket.revisions`); undo
writes an old revision's template back, and the controller records it as the newest revision.
"""

from __future__ import annotations

import click

from laneway.api.kinds import ModelDeployment
from laneway.api.labels import REVISION_ANNOTATION
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_REFUSED, EXIT_USAGE, Failure
from laneway.cli.output import render_table
from laneway.client import Client
from laneway.ticket.revisions import BadHistory, find_revision, read_history, restored

_DEPLOYMENT_NAMES = ("md", "modeldeployment", "modeldeployments", "ModelDeployment")


def deployment_name(target: str) -> str:
    """`md/NAME` or `NAME` to NAME; anything else is a usage error that says what to write."""
    kind, sep, name = target.partition("/")
    if not sep:
        return target
    if kind not in _DEPLOYMENT_NAMES or not name:
        raise Failure(f"rollout works on ModelDeployments: write md/NAME (got {target!r})", EXIT_USAGE)
    return name


def _read(client: Client, name: str, namespace: str | None) -> ModelDeployment:
    return client.get(ModelDeployment, name, namespace=namespace or DEFAULT_NAMESPACE)


@click.group("rollout")
def rollout() -> None:
    """Revision history and rollback of ModelDeployments."""


@rollout.command("history")
@click.argument("target", metavar="md/NAME")
@namespace_option
@connection_options
@click.pass_context
def history(ctx: click.Context, target: str, namespace: str | None) -> None:
    """List the kept revisions of a deployment, with what changed in each."""
    name = deployment_name(target)  # a usage error before any connection is tried
    deployment = _read(open_client(ctx), name, namespace)
    try:
        revisions = read_history(deployment)
    except BadHistory as e:
        raise Failure(str(e), EXIT_REFUSED) from None
    if not revisions:
        click.echo(f"modeldeployment/{deployment.name} has no recorded revisions yet")
        return
    current = deployment.metadata.annotations.get(REVISION_ANNOTATION)
    rows = [[str(r.number) + (" (current)" if str(r.number) == current else ""), r.recorded_at or "-", r.change] for r in revisions]
    click.echo(render_table(rows, ["REVISION", "RECORDED", "CHANGE"]))


@rollout.command("undo")
@click.argument("target", metavar="md/NAME")
@click.option("--to-revision", type=int, default=None, help="Revision to restore (default: the one before the current).")
@namespace_option
@connection_options
@click.pass_context
def undo(ctx: click.Context, target: str, to_revision: int | None, namespace: str | None) -> None:
    """Restore a deployment's template from an earlier revision."""
    name = deployment_name(target)
    client = open_client(ctx)
    deployment = _read(client, name, namespace)
    if any(ref.controller for ref in deployment.metadata.owner_references):
        owner = next(ref for ref in deployment.metadata.owner_references if ref.controller)
        if owner.kind == "InferenceTicket":
            target_text = f"lifecycle.rollback.toRevision: {to_revision}" if to_revision else "lifecycle.rollback.toRevision: N"
            raise Failure(
                f"modeldeployment/{deployment.name} is composed by InferenceTicket {owner.name!r}, so the ticket says which "
                f"template runs: set {target_text} in the ticket and apply it (remove it to roll forward); "
                f"revisions: laneway rollout history md/{deployment.name} -n {deployment.namespace}", EXIT_USAGE,
            )
        raise Failure(
            f"modeldeployment/{deployment.name} is composed by {owner.kind} {owner.name!r}; change the {owner.kind} "
            "instead, or its next reconcile undoes the undo", EXIT_USAGE,
        )
    try:
        revision = find_revision(read_history(deployment), to_revision)
    except (LookupError, BadHistory) as e:
        raise Failure(f"modeldeployment/{deployment.name}: {e}", EXIT_USAGE) from None
    client.update(restored(deployment, revision))
    click.echo(f"modeldeployment/{deployment.name} rolled back to revision {revision.number}")
