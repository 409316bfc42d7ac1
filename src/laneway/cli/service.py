"""`laneway service`: operations on a ModelService that are not plain edits.

`laneway service break-glass NAME --on|--off` flips `spec.breakGlass`: while on, the gateway
sends the service's traffic to its BreakGlass tier first (see docs/gateway.md).
"""

from __future__ import annotations

import click

from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client


@click.group()
def service() -> None:
    """Operate a ModelService (ms)."""


@service.command("break-glass")
@click.argument("name")
@click.option("--on/--off", "on", required=True, help="Turn the break-glass switch on or off.")
@namespace_option
@connection_options
@click.pass_context
def break_glass(ctx: click.Context, name: str, on: bool, namespace: str | None) -> None:
    """Send NAME's traffic to its BreakGlass endpoints (--on), or back to normal (--off)."""
    from laneway.api.kinds.serving import ModelService

    client = open_client(ctx)
    updated = client.patch("ModelService", name, {"spec": {"breakGlass": on}}, namespace=namespace or DEFAULT_NAMESPACE)
    state = "on: traffic goes to the BreakGlass tier first" if on else "off: traffic follows Primary, then Overflow"
    click.echo(f"modelservice/{name} break-glass {state}")
    if on and isinstance(updated, ModelService) and not any(e.tier == "BreakGlass" for e in updated.spec.endpoints):
        click.echo(
            f"warning: modelservice/{name} has no BreakGlass entry, so nothing changes for its traffic; "
            "add an entry with tier: BreakGlass selecting the endpoints to switch to",
            err=True,
        )
