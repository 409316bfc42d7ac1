"""`laneway token`: mint, list, revoke and rotate bearer tokens.

A `team` token reads and writes the ML team's kinds in its namespaces only; a `platform`
token writes the cluster-scoped kinds (clusters, classes, gateway). A new token is printed
once, on stdout alone, so `TOKEN=$(laneway token create ...)` captures it; the server keeps
only its hash. `list` shows ids, grants and times, never a token; `revoke ID` ends a token
on its next request, in the API and the gateway alike; `rotate-admin` replaces the admin
token `laneway up` keeps in its data directory (the old one stops working at once).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from laneway.api.kinds.common import parse_duration
from laneway.cli.context import connection_options, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.output import age, parse_timestamp, render_table, to_json
from laneway.client import TokenInfo

ROLES = ("team", "platform")
NONE = "-"


def _check_ttl(ttl: str | None) -> str | None:
    if ttl is not None:
        try:
            parse_duration(ttl)
        except ValueError as e:
            raise Failure(f"--ttl: {e}", EXIT_USAGE) from None
    return ttl


@click.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="team: one or more namespaces; platform: the fleet's cluster-scoped kinds.")
@click.option("--namespace", "-n", "namespaces", multiple=True, metavar="NS", help="A namespace a team token may use; repeatable; required for --role team.")
@click.option("--description", default="", help="Who or what the token is for (shown to admins, never secret).")
@click.option("--ttl", default=None, metavar="DURATION", help="Expire the token after this long, e.g. 12h or 30d (default: never).")
@connection_options
@click.pass_context
def create(ctx: click.Context, role: str, namespaces: tuple[str, ...], description: str, ttl: str | None) -> None:
    """Create a token and print it (once)."""
    if role == "team" and not namespaces:
        raise Failure("a team token needs at least one --namespace NS", EXIT_USAGE)
    if role == "platform" and namespaces:
        raise Failure("a platform token is not scoped to namespaces; drop --namespace", EXIT_USAGE)
    client = open_client(ctx)
    value = client.create_token(role=role, namespaces=list(namespaces), description=description, ttl=_check_ttl(ttl))
    click.echo(value)
    scope = f" for namespace{'s' if len(namespaces) > 1 else ''} {', '.join(namespaces)}" if namespaces else ""
    expiry = f", expiring in {ttl}" if ttl else ""
    click.echo(f"created a {role} token{scope}{expiry}; it is shown only this once. Use it with --token or LANEWAY_TOKEN.", err=True)


def _when(text: str, now: datetime) -> str:
    return f"{age(text, now)} ago" if text else NONE


def _expires(info: TokenInfo, now: datetime) -> str:
    """`never`, `in 29d` while active, or the time it expired."""
    expires = parse_timestamp(info.expires)
    if expires is None:
        return "never"
    if info.state != "Active" or expires <= now:
        return info.expires
    return "in " + age(now.strftime("%Y-%m-%dT%H:%M:%SZ"), expires)


def tokens_table(items: list[TokenInfo], now: datetime) -> str:
    headers = ["ID", "ROLE", "NAMESPACES", "STATE", "CREATED", "LAST USED", "EXPIRES", "DESCRIPTION"]
    rows = [
        [
            t.id, t.role, ",".join(t.namespaces) or NONE, t.state, _when(t.created, now), _when(t.last_used, now),
            _expires(t, now), t.description or NONE,
        ]
        for t in items
    ]
    return render_table(rows, headers)


@token.command("list")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", help="table (default) or json.")
@connection_options
@click.pass_context
def list_tokens(ctx: click.Context, output: str) -> None:
    """List tokens: ids, grants and times, never the tokens themselves."""
    items = open_client(ctx).list_tokens()
    if output == "json":
        click.echo(to_json({"kind": "TokenList", "items": [t.wire() for t in items]}))
        return
    if not items:
        click.echo("no tokens", err=True)
        return
    click.echo(tokens_table(items, datetime.now(UTC)))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@connection_options
@click.pass_context
def revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke the token with this ID (from `laneway token list`); it stops working at once."""
    info = open_client(ctx).revoke_token(token_id)
    scope = f" for {','.join(info.namespaces)}" if info.namespaces else ""
    click.echo(f"token {info.id} ({info.role}{scope}) revoked; requests with it are refused from now on")


@token.command("rotate")
@click.argument("token_id", metavar="ID")
@click.option("--ttl", default=None, metavar="DURATION", help="Expiry of the new token (default: the old one's).")
@connection_options
@click.pass_context
def rotate(ctx: click.Context, token_id: str, ttl: str | None) -> None:
    """Replace the token with this ID by a new one with the same grant; print the new one (once)."""
    _rotate(ctx, token_id, ttl)


@token.command("rotate-admin")
@connection_options
@click.pass_context
def rotate_admin(ctx: click.Context) -> None:
    """Replace the admin token `laneway up` keeps in its data directory; the old one stops working."""
    _rotate(ctx, "admin", None)


def _rotate(ctx: click.Context, token_id: str, ttl: str | None) -> None:
    value, info = open_client(ctx).rotate_token(token_id, ttl=_check_ttl(ttl))
    click.echo(value)
    where = f"; it is written to {info.written_to}, where the local CLI reads it" if info.written_to else ""
    click.echo(f"rotated: new {info.role} token {info.id}{where}; the old token no longer works. "
               "The new one is shown only this once.", err=True)
