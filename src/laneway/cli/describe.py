"""`laneway describe`: one object in full, with its conditions and related objects."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from laneway.api.meta import Resource
from laneway.api.registry import KINDS
from laneway.cli.context import connection_options, namespace_option, open_client
from laneway.cli.describe_view import describe_text, related_objects
from laneway.cli.kinds import one_kind
from laneway.cli.notfound import get_or_hint
from laneway.client import ApiError, Client


def _candidates(client: Client, obj: Resource) -> list[Resource]:
    """Objects that may own or be owned by `obj`: same namespace, plus cluster-scoped kinds.
    Kinds the caller may not read are skipped: describe shows what it can see."""
    out: list[Resource] = []
    for info in KINDS:
        if info.kind == "Secret":
            continue
        everywhere = info.namespaced and not obj.namespace  # a cluster-scoped object may own any namespace's
        try:
            listed = client.list(info.kind, namespace=obj.namespace or None, all_namespaces=everywhere)
        except ApiError as e:
            if e.code in (401, 403, 404):
                continue
            raise
        out.extend(listed.items)
    return out


@click.command()
@click.argument("kind")
@click.argument("name")
@namespace_option
@connection_options
@click.pass_context
def describe(ctx: click.Context, kind: str, name: str, namespace: str | None) -> None:
    """Show one object in full: metadata, spec, status, conditions and related objects."""
    info = one_kind(kind)
    client = open_client(ctx)
    obj = get_or_hint(client, info, name, namespace)
    related = related_objects(obj, _candidates(client, obj))
    click.echo(describe_text(obj, related=related, now=datetime.now(UTC)))
