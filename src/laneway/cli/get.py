"""`laneway get`: list or fetch objects of one or more kinds, as a table, YAML or JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from laneway.api.meta import Resource
from laneway.api.registry import KindInfo
from laneway.api.selectors import parse_selector
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import namespace_for, parse_kinds, ref, split_kind_name
from laneway.cli.notfound import get_or_hint
from laneway.cli.output import OUTPUT_FORMATS, render_documents, resource_table


@click.command()
@click.argument("kinds", metavar="KIND[,KIND...]")
@click.argument("name", required=False)
@namespace_option
@click.option("-A", "--all-namespaces", is_flag=True, help="List across every namespace.")
@click.option("-l", "--selector", default=None, metavar="SELECTOR", help="Label selector, e.g. 'team=ml,tier in (gold)'.")
@click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True, help="Output format.")
@connection_options
@click.pass_context
def get(
    ctx: click.Context,
    kinds: str,
    name: str | None,
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    output: str,
) -> None:
    """Show objects: a table a person reads, or -o json/yaml a script reads.

    KIND is a kind, plural or short name (ig, ic, icl, md, mr, me, ms, mc, tk, secrets); several
    kinds are separated by commas. With NAME, one object per kind; -o json then prints the
    object itself, otherwise a List.
    """
    kinds, name = split_kind_name(kinds, name)
    infos = parse_kinds(kinds)
    if name and all_namespaces:
        raise Failure("NAME and -A do not go together: name one object with -n NS, or list with -A", EXIT_USAGE)
    if name and selector:
        raise Failure("NAME and -l do not go together: either name one object or select by label", EXIT_USAGE)
    if selector:
        parse_selector(selector)  # a malformed selector is a usage error before anything is sent
    client = open_client(ctx)

    sections: list[tuple[KindInfo, list[Resource]]] = []
    for info in infos:
        if name:
            sections.append((info, [get_or_hint(client, info, name, namespace)]))
        else:
            listed = client.list(
                info.kind,
                namespace=namespace_for(info, namespace),
                all_namespaces=all_namespaces,
                label_selector=selector,
            )
            sections.append((info, listed.items))

    if output == "name":  # `kind/name` per line, as kubectl's -o name, for scripts and xargs
        for info, objs in sections:
            for obj in objs:
                click.echo(ref(info, obj.name))
        return
    if output in ("json", "yaml"):
        items = [obj for _, objs in sections for obj in objs]
        click.echo(render_documents(items, output=output, single=bool(name) and len(infos) == 1))
        return

    now = datetime.now(UTC)
    printed = False
    for info, objs in sections:
        if not objs:
            continue
        if printed:
            click.echo()
        click.echo(
            resource_table(
                objs,
                kind=info.kind,
                now=now,
                wide=output == "wide",
                show_namespace=all_namespaces and info.namespaced,
                show_kind=len(infos) > 1,
            )
        )
        printed = True
    if not printed:
        where = "any namespace" if all_namespaces else f"namespace {namespace or DEFAULT_NAMESPACE!r}"
        scoped = any(i.namespaced for i in infos)
        click.echo(f"No resources found{' in ' + where if scoped else ''}.", err=True)
