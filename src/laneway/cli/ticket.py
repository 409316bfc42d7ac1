"""`laneway ticket`: write, check, approve and render inference deployment tickets.

- `new NAME [--from md.yaml]`: a ticket with every row and its question, ready to fill;
- `check FILE [-f fleet.yaml]`: every row's verdict, offline against manifests (`-f`) or
  online against the running fleet; exit 0 only when all rows pass (1 when some fail, 2 on
  invalid input); `-o json` for scripts;
- `approve NAME`: mark a ticket approved (needs a platform or admin token);
- `render FILE`: the resources the ticket would compose, as YAML or JSON, for review or GitOps.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Sequence

import click

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import InferenceTicket, ModelDeployment
from laneway.api.manifest import load_paths
from laneway.api.meta import Resource, check_dns1123_label
from laneway.api.registry import lookup
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_REFUSED, EXIT_USAGE, Failure
from laneway.cli.output import to_json, to_yaml, without_empties
from laneway.cli.plan import assume_ready
from laneway.client import MERGE_PATCH, ApiError, Client, object_path
from laneway.ticket.checks import check_ticket
from laneway.ticket.compose import CompositionError, compose
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.report import report_json, report_text
from laneway.ticket.scaffold import new_ticket


def read_ticket(path: str) -> InferenceTicket:
    """The one InferenceTicket in a file; a clear Failure for anything else."""
    try:
        loaded = load_paths([path])
    except InvalidManifests as e:
        raise Failure(f"{path} does not load; fix these and check again\n{e}", EXIT_USAGE) from None
    tickets = [r for r in loaded if isinstance(r, InferenceTicket)]
    if len(tickets) != 1:
        raise Failure(f"{path} holds {len(tickets)} InferenceTickets; give a file with exactly one", EXIT_USAGE)
    return tickets[0]


def offline_fleet(paths: Sequence[str]) -> FleetSnapshot:
    """The fleet in manifests, clusters taken as Ready with a gateway (as `laneway plan` does)."""
    fleet = FleetSnapshot.of(load_paths(paths))
    return fleet.with_clusters([assume_ready(c) for c in fleet.clusters])


def online_fleet(client: Client) -> FleetSnapshot:
    items: list[Resource] = []
    for kind in ("InferenceCluster", "InferenceClass", "ModelReplica", "InferenceGateway"):
        items += client.list(kind, all_namespaces=True).items
    return FleetSnapshot.of(items)


def _fleet(ctx: click.Context, fleet_paths: tuple[str, ...]) -> FleetSnapshot:
    return offline_fleet(fleet_paths) if fleet_paths else online_fleet(open_client(ctx))


@click.group("ticket")
def ticket() -> None:
    """Inference deployment tickets: the ten questions answered, checked, then composed."""


@ticket.command("new")
@click.argument("name")
@click.option("--from", "from_paths", multiple=True, metavar="FILE", help="Fill rows from an existing ModelDeployment (and ModelService) manifest.")
@namespace_option
def new(name: str, from_paths: tuple[str, ...], namespace: str | None) -> None:
    """Print a new ticket NAME with every row present and a question under each."""
    for what, value in (("ticket name", name), ("namespace", namespace)):
        if value is not None:
            try:
                check_dns1123_label(value, what)
            except ValueError as e:
                raise Failure(str(e), EXIT_USAGE) from None
    source = load_paths(from_paths) if from_paths else []
    if from_paths and not any(isinstance(r, ModelDeployment) for r in source):
        raise Failure(f"--from {', '.join(from_paths)} holds no ModelDeployment to fill the ticket from", EXIT_USAGE)
    click.echo(new_ticket(name, namespace=namespace, source=source), nl=False)


@ticket.command("check")
@click.argument("path", metavar="FILE")
@click.option("-f", "--filename", "fleet_paths", multiple=True, metavar="FILE",
              help="Check offline against these fleet manifests (clusters, classes, replicas); else against the server.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@connection_options
@click.pass_context
def check(ctx: click.Context, path: str, fleet_paths: tuple[str, ...], output: str) -> None:
    """Check every row of the ticket in FILE. Exits 0 only when all rows pass."""
    tk = read_ticket(path)
    report = check_ticket(tk, _fleet(ctx, fleet_paths), now=time.time())
    click.echo(json.dumps(report_json(report), indent=2) if output == "json" else report_text(report))
    if not report.passed:
        ctx.exit(EXIT_REFUSED)


@ticket.command("approve")
@click.argument("name")
@namespace_option
@connection_options
@click.pass_context
def approve(ctx: click.Context, name: str, namespace: str | None) -> None:
    """Approve ticket NAME so it composes once every row passes (platform or admin token)."""
    client = open_client(ctx)
    ns = namespace or DEFAULT_NAMESPACE
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        client.request(
            "PATCH",
            object_path(lookup("InferenceTicket"), ns, name) + "/status",
            body={"status": {"approved": True, "approvedBy": "laneway ticket approve", "approvedAt": when}},
            content_type=MERGE_PATCH,
        )
    except ApiError as e:
        if e.code != 403:
            raise
        raise Failure(
            f"approving a ticket is the platform team's decision: run it with a platform or admin token "
            f"(laneway token create --role platform), or ask the platform to auto-approve namespace {ns} "
            "(the laneway.dev/auto-approve-tickets annotation of an InferenceGateway)"
        ) from None
    click.echo(f"inferenceticket/{name} approved in namespace {ns}; it composes once every row passes "
               f"(laneway describe tk {name} -n {ns})")


@ticket.command("render")
@click.argument("path", metavar="FILE")
@click.option("-f", "--filename", "fleet_paths", multiple=True, metavar="FILE",
              help="Fleet manifests to resolve a hardware className from (else the server's classes, when it needs them).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@connection_options
@click.pass_context
def render(ctx: click.Context, path: str, fleet_paths: tuple[str, ...], output: str) -> None:
    """Print the resources the ticket in FILE would compose."""
    tk = read_ticket(path)
    needs_classes = tk.spec.hardware is not None and bool(tk.spec.hardware.class_name)
    classes = _fleet(ctx, fleet_paths).classes if (fleet_paths or needs_classes) else ()
    try:
        composition = compose(tk, classes=classes)
    except CompositionError as e:
        lines = "\n".join(f"  - {row}: {message}" for row, message in e.problems)
        raise Failure(f"ticket {tk.name} cannot be rendered yet:\n{lines}", EXIT_USAGE) from None
    docs = [without_empties({k: v for k, v in o.wire().items() if k != "status"}) for o in composition.objects()]
    if output == "json":
        click.echo(to_json({"apiVersion": "v1", "kind": "List", "items": docs}))
    else:
        click.echo("\n---\n".join(to_yaml(d) for d in docs))
