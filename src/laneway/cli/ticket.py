"""`laneway ticket`: write, check, approve and render inference deployment tickets.

- `new NAME [--from md.yaml]`: a ticket with every row and its question, ready to fill;
- `check FILE [-f fleet.yaml] [--model-file MODEL]`: every row's verdict (`--model-file`: a GGUF
  or config.json whose size the hardware row's memory check reads), offline against manifests (`-f`) or
  online, checked by the server against the whole fleet (capacity figures only to a team); exit 0 only when all rows pass (1 when some fail, 2 on
  invalid input); `-o json` for scripts;
- `approve NAME [--override REASON]`: approve the ticket as it stands (platform or admin token),
  after printing what changed since the last approval;
- `render FILE`: the resources the ticket would compose, as YAML or JSON, for review or GitOps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from pydantic import ValidationError

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import InferenceTicket, ModelDeployment
from laneway.api.kinds.ticket import MemoryAnswer
from laneway.api.manifest import load_paths, problems_from
from laneway.api.meta import Resource, check_dns1123_label
from laneway.api.registry import lookup
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_REFUSED, EXIT_USAGE, Failure
from laneway.cli.output import to_json, to_yaml, without_empties
from laneway.cli.plan import assume_ready
from laneway.client import MERGE_PATCH, ApiError, Client, object_path
from laneway.ticket.approval import diff_lines, material_rows
from laneway.ticket.checks import check_ticket
from laneway.ticket.compose import CompositionError, compose
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.model_files import (
    ModelFileError,
    cached_model_file,
    lacks_model_facts,
    model_file_memory,
    with_model_memory,
)
from laneway.ticket.policy import TicketPolicy
from laneway.ticket.report import report_from_json, report_json, report_text
from laneway.ticket.scaffold import new_ticket

TICKET_CHECK_PATH = "/apis/laneway.dev/v1alpha1/ticketchecks"


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


def _model_file_problem(path: str, e: Exception) -> str:
    if isinstance(e, ValidationError):
        problems = "; ".join(str(p) for p in problems_from(e, model=MemoryAnswer))
        return f"--model-file {path}: its facts do not make a hardware.memory answer ({problems})"
    return str(e)


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
@click.option("--model-file", "model_file", default=None, metavar="PATH",
              help="A GGUF file or a HuggingFace config.json: the hardware row's memory check reads the model's size from it "
                   "[default: the cache row's weights, when they are on this machine].")
@connection_options
@click.pass_context
def check(ctx: click.Context, path: str, fleet_paths: tuple[str, ...], output: str, model_file: str | None) -> None:
    """Check every row of the ticket in FILE. Exits 0 only when all rows pass."""
    tk = read_ticket(path)
    if model_file is None and lacks_model_facts(tk):
        cached = cached_model_file(tk)
        if cached is not None:
            click.echo(f"hardware.memory: the model's size is read from {cached} (the cache row's weights on this machine)", err=True)
            model_file = str(cached)
    if model_file is not None:
        try:
            tk = with_model_memory(tk, model_file_memory(Path(model_file)))
        except (ModelFileError, ValidationError) as e:
            raise Failure(_model_file_problem(model_file, e), EXIT_USAGE) from None
    if fleet_paths:
        report = check_ticket(tk, offline_fleet(fleet_paths), now=time.time())
    else:  # online: the server checks against the whole fleet, as its controller will
        doc = open_client(ctx).request("POST", TICKET_CHECK_PATH, body=tk.wire())
        report = report_from_json(doc if isinstance(doc, dict) else {})
    click.echo(json.dumps(report_json(report), indent=2) if output == "json" else report_text(report))
    if not report.passed:
        ctx.exit(EXIT_REFUSED)


@ticket.command("approve")
@click.argument("name")
@click.option("--override", metavar="REASON", default=None,
              help="Approve although rows fail, recording why (only the rows failing now are covered).")
@namespace_option
@connection_options
@click.pass_context
def approve(ctx: click.Context, name: str, override: str | None, namespace: str | None) -> None:
    """Approve ticket NAME as it stands now (platform or admin token); shows what changed since the
    last approval. The server records the approving token, the generation and the rows' hash."""
    client = open_client(ctx)
    ns = namespace or DEFAULT_NAMESPACE
    current = client.get(InferenceTicket, name, namespace=ns)
    click.echo(approval_diff_text(current))
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # a fresh value asks for a new approval
    try:
        stored = client.request(
            "PATCH",
            object_path(lookup("InferenceTicket"), ns, name) + "/status",
            body={"status": {"approved": True, "approvedAt": when, "approvalOverride": override}},
            content_type=MERGE_PATCH,
        )
    except ApiError as e:
        if e.code == 422:
            raise Failure(e.message, EXIT_REFUSED) from None
        if e.code != 403:
            raise
        raise Failure(
            f"approving a ticket is the platform team's decision: run it with a platform or admin token "
            f"(laneway token create --role platform), or ask the platform to auto-approve namespace {ns} "
            "(the laneway.dev/auto-approve-tickets annotation of an InferenceGateway)"
        ) from None
    status = stored.get("status", {}) if isinstance(stored, dict) else {}
    who = f"{status.get('approvedBy')} (role {status.get('approvedRole')})"
    click.echo(f"inferenceticket/{name} approved in namespace {ns} at generation {status.get('approvedGeneration')} "
               f"by {who}, rows {status.get('approvedHash')}; {_composes_when(status)} "
               f"(laneway describe tk {name} -n {ns})")


def _composes_when(status: dict[str, object]) -> str:
    overridden = status.get("overriddenRows")
    if isinstance(overridden, list) and overridden:
        return f"it composes with row(s) {', '.join(str(r) for r in overridden)} failing, as overridden"
    return "it composes once every row passes"


def approval_diff_text(current: InferenceTicket) -> str:
    """What approving now changes, against the rows last approved (pure)."""
    rows = material_rows(current.spec)
    last = current.status.approved_rows
    if not last:
        return f"first approval of inferenceticket/{current.name}: every row as it stands"
    lines = diff_lines(last, rows)
    if not lines:
        return f"inferenceticket/{current.name}: no change since the approval at generation {current.status.approved_generation}"
    head = f"changes since the approval at generation {current.status.approved_generation} by {current.status.approved_by}:"
    return "\n".join([head, *("  " + line for line in lines)])


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
    needs_providers = tk.spec.overflow is not None and bool(tk.spec.overflow.provider)
    fleet = _fleet(ctx, fleet_paths) if (fleet_paths or needs_classes or needs_providers) else FleetSnapshot()
    try:
        composition = compose(tk, classes=fleet.classes, providers=TicketPolicy.of(fleet.gateways).providers)
    except CompositionError as e:
        lines = "\n".join(f"  - {row}: {message}" for row, message in e.problems)
        raise Failure(f"ticket {tk.name} cannot be rendered yet:\n{lines}", EXIT_USAGE) from None
    docs = [without_empties({k: v for k, v in o.wire().items() if k != "status"}) for o in composition.objects()]
    if output == "json":
        click.echo(to_json({"apiVersion": "v1", "kind": "List", "items": docs}))
    else:
        click.echo("\n---\n".join(to_yaml(d) for d in docs))
