"""`laneway audit`: deployments nobody owns or no ticket stands for, so nothing runs by accident,
and endpoints every data boundary excludes because nobody but a team vouches for their place."""

from __future__ import annotations

import json
import time

import click

from laneway.api.kinds import InferenceGateway, InferenceTicket, ModelDeployment, ModelEndpoint, ModelService
from laneway.cli.context import connection_options, open_client
from laneway.cli.output import render_table
from laneway.gateway.provenance import vouched_providers
from laneway.gateway.unvouched import unvouched_endpoints
from laneway.ticket.audit import audit as find_unowned


@click.command("audit")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@connection_options
@click.pass_context
def audit(ctx: click.Context, output: str) -> None:
    """List ModelDeployments in every namespace that no approved ticket composed, or that have no owner
    (following ownerReferences and approval records, never labels), and ModelEndpoints that a service's
    data boundary excludes because no provider the platform vouches for is at their host."""
    client = open_client(ctx)
    deployments = client.list(ModelDeployment, all_namespaces=True).items
    services = client.list(ModelService, all_namespaces=True).items
    tickets = client.list(InferenceTicket, all_namespaces=True).items
    gateways = client.list(InferenceGateway).items
    endpoints = client.list(ModelEndpoint, all_namespaces=True).items
    findings = find_unowned(deployments, services, tickets=tickets, gateways=gateways, now=time.time())
    unvouched = unvouched_endpoints(services, endpoints, vouched_providers(gateways))
    if output == "json":
        click.echo(json.dumps({
            "findings": [
                {"namespace": f.namespace, "name": f.name, "owner": f.owner, "ticket": f.ticket, "retires": f.retires,
                 "problems": list(f.problems)}
                for f in findings
            ],
            "endpoints": [
                {"namespace": e.namespace, "name": e.name, "url": e.url, "writtenBy": e.written_by if e.stamped else None,
                 "excludedBy": list(e.services), "problem": e.problem, "fix": e.fix}
                for e in unvouched
            ],
        }, indent=2))
        return
    if not findings:
        click.echo(f"all {len(deployments)} deployment(s) have an owner and an approved ticket")
    else:
        rows = [[f.namespace, f.name, f.owner or "<none>", f.ticket or "<none>", f.retires, "; ".join(f.problems)] for f in findings]
        click.echo(render_table(rows, ["NAMESPACE", "NAME", "OWNER", "TICKET", "RETIRES", "PROBLEMS"]))
    if unvouched:
        click.echo("")
        click.echo(f"{len(unvouched)} endpoint(s) outside every data boundary (no provider the platform vouches for at their host):")
        rows = [[e.namespace, e.name, e.written_by, ",".join(e.services), f"{e.problem}: {e.fix}"] for e in unvouched]
        click.echo(render_table(rows, ["NAMESPACE", "ENDPOINT", "WRITTEN-BY", "EXCLUDED-BY", "PROBLEM"]))
