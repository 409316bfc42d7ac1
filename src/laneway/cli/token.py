"""`laneway token create`: mint a bearer token for a team or for the platform.

A `team` token reads and writes the ML team's kinds in its namespaces only; a `platform`
token writes the cluster-scoped kinds (clusters, classes, gateway). The token is printed
once, on stdout alone, so `TOKEN=$(laneway token create ...)` captures it; the server keeps
only its hash.
"""

from __future__ import annotations

import click

from laneway.cli.context import connection_options, open_client
from laneway.cli.errors import EXIT_USAGE, Failure

ROLES = ("team", "platform")


@click.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="team: one or more namespaces; platform: the fleet's cluster-scoped kinds.")
@click.option("--namespace", "-n", "namespaces", multiple=True, metavar="NS", help="A namespace a team token may use; repeatable; required for --role team.")
@click.option("--description", default="", help="Who or what the token is for (shown to admins, never secret).")
@connection_options
@click.pass_context
def create(ctx: click.Context, role: str, namespaces: tuple[str, ...], description: str) -> None:
    """Create a token and print it (once)."""
    if role == "team" and not namespaces:
        raise Failure("a team token needs at least one --namespace NS", EXIT_USAGE)
    if role == "platform" and namespaces:
        raise Failure("a platform token is not scoped to namespaces; drop --namespace", EXIT_USAGE)
    client = open_client(ctx)
    value = client.create_token(role=role, namespaces=list(namespaces), description=description)
    click.echo(value)
    scope = f" for namespace{'s' if len(namespaces) > 1 else ''} {', '.join(namespaces)}" if namespaces else ""
    click.echo(f"created a {role} token{scope}; it is shown only this once. Use it with --token or LANEWAY_TOKEN.", err=True)
