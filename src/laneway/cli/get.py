"""`laneway get`: list or fetch objects of one or more kinds, as a table, YAML, JSON, names or
a jsonpath template; `-w` goes on printing changes (see `laneway.cli.get_watch`)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from laneway.api.meta import Resource
from laneway.api.registry import KindInfo
from laneway.api.selectors import parse_selector
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.get_watch import WatchTarget, watch_command
from laneway.cli.kinds import ALL, namespace_for, parse_kinds, ref, split_kind_name
from laneway.cli.notfound import get_or_hint
from laneway.cli.output import OutputFormat, OutputType, render_documents, resource_table


@click.command()
@click.argument("kinds", metavar="KIND[,KIND...]")
@click.argument("name", required=False)
@namespace_option
@click.option("-A", "--all-namespaces", is_flag=True, help="List across every namespace.")
@click.option("-l", "--selector", default=None, metavar="SELECTOR", help="Label selector, e.g. 'team=ml,tier in (gold)'.")
@click.option(
    "-o", "--output", type=OutputType(), default="table", show_default=True,
    help="Output format: table, wide, yaml, json, name, or jsonpath=TEMPLATE (kubectl's, e.g. jsonpath='{.items[*].metadata.name}').",
)
@click.option("-w", "--watch", is_flag=True, help="After the list, print every change as it happens, until Ctrl-C.")
@click.option("--output-watch-events", is_flag=True, help="With -w, say each change's type (ADDED, MODIFIED, DELETED).")
@connection_options
@click.pass_context
def get(
    ctx: click.Context,
    kinds: str,
    name: str | None,
    namespace: str | None,
    all_namespaces: bool,
    selector: str | None,
    output: OutputFormat,
    watch: bool,
    output_watch_events: bool,
) -> None:
    """Show objects: a table a person reads, or -o json/yaml/name/jsonpath a script reads.

    KIND is a kind, plural or short name (ig, ic, icl, md, mr, me, ms, mc, tk, secrets); several
    kinds are separated by commas; `all` is every namespaced kind but Secrets. With NAME, one
    object per kind; -o json then prints the object itself, otherwise a List. -w follows changes.
    """
    kinds, name = split_kind_name(kinds, name)
    infos = parse_kinds(kinds, allow_all=True)
    if name and all_namespaces:
        raise Failure("NAME and -A do not go together: name one object with -n NS, or list with -A", EXIT_USAGE)
    if name and selector:
        raise Failure("NAME and -l do not go together: either name one object or select by label", EXIT_USAGE)
    if name and ALL in (k.strip().lower() for k in kinds.split(",")):
        raise Failure(f"`get {ALL}` lists; name one object as KIND/NAME (md/{name})", EXIT_USAGE)
    if output_watch_events and not watch:
        raise Failure("--output-watch-events goes with -w (watch)", EXIT_USAGE)
    if watch and len(infos) != 1:
        raise Failure(f"-w watches one kind at a time, got {len(infos)} ({kinds}): run one `laneway get KIND -w` per kind", EXIT_USAGE)
    if selector:
        parse_selector(selector)  # a malformed selector is a usage error before anything is sent
    client = open_client(ctx)

    if watch:
        target = WatchTarget(
            infos[0], namespace_for(infos[0], namespace), all_namespaces=all_namespaces, selector=selector, name=name
        )
        listed = target.listing(client)
        if not listed[0] and output.is_table:
            _say_none_found(infos, namespace, all_namespaces)
        watch_command(client, target, output=output, events=output_watch_events, listed=listed)
        return

    sections: list[tuple[KindInfo, list[Resource]]] = []
    for info in infos:
        if name:
            sections.append((info, [get_or_hint(client, info, name, namespace)]))
        else:
            listed_items = client.list(
                info.kind,
                namespace=namespace_for(info, namespace),
                all_namespaces=all_namespaces,
                label_selector=selector,
            )
            sections.append((info, listed_items.items))
    _print_sections(sections, output=output, single=bool(name) and len(infos) == 1, all_namespaces=all_namespaces)
    if not any(objs for _, objs in sections) and output.is_table:
        _say_none_found(infos, namespace, all_namespaces)


def _print_sections(
    sections: list[tuple[KindInfo, list[Resource]]], *, output: OutputFormat, single: bool, all_namespaces: bool
) -> None:
    if output.name == "name":  # `kind/name` per line, as kubectl's -o name, for scripts and xargs
        for info, objs in sections:
            for obj in objs:
                click.echo(ref(info, obj.name))
        return
    if not output.is_table:
        items = [obj for _, objs in sections for obj in objs]
        # kubectl prints a template's output as it is (no newline added); JSON and YAML end in one.
        click.echo(render_documents(items, output=output, single=single), nl=output.template is None)
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
                wide=output.name == "wide",
                show_namespace=all_namespaces and info.namespaced,
                show_kind=len(sections) > 1,
            )
        )
        printed = True


def _say_none_found(infos: list[KindInfo], namespace: str | None, all_namespaces: bool) -> None:
    where = "any namespace" if all_namespaces else f"namespace {namespace or DEFAULT_NAMESPACE!r}"
    scoped = any(i.namespaced for i in infos)
    click.echo(f"No resources found{' in ' + where if scoped else ''}.", err=True)
