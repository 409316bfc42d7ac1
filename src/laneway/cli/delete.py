"""`laneway delete`: objects by kind and name, every object of a kind in a namespace (`--all`,
`-l SELECTOR`), or every object in manifests.

`--all` and `-l` list first and delete what the list returned, each by name, so the server
checks every delete against the caller's token exactly as it checks a named one: a team token
deletes only in its own namespaces (a list elsewhere is refused before anything is deleted).
"""

from __future__ import annotations

import click

from laneway.api.manifest import load_paths
from laneway.api.registry import KindInfo, by_kind
from laneway.api.selectors import parse_selector
from laneway.cli.apply import in_apply_order
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import namespace_for, one_kind, ref, split_kind_name
from laneway.client import ApiError, Client

Target = tuple[KindInfo, str | None, str]
"""What to delete: the kind, the namespace (None: the default one), the name."""


@click.command()
@click.argument("kind", required=False, metavar="[KIND]")
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option("-f", "--filename", "paths", multiple=True, metavar="PATH", help="Delete the objects in these files, directories or '-' (stdin).")
@click.option("--all", "all_", is_flag=True, help="Delete every object of KIND in the namespace (-n; cluster-scoped kinds: all of them).")
@click.option("-l", "--selector", default=None, metavar="SELECTOR", help="Delete the objects of KIND whose labels match, e.g. 'tier=overflow'.")
@namespace_option
@click.option("--ignore-not-found", is_flag=True, help="An object that does not exist is not an error.")
@connection_options
@click.pass_context
def delete(
    ctx: click.Context,
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    all_: bool,
    selector: str | None,
    namespace: str | None,
    ignore_not_found: bool,
) -> None:
    """Delete KIND NAME..., KIND/NAME, KIND --all, KIND -l SELECTOR, or the objects in -f PATH.

    Objects with finalizers are marked for deletion and go once their controllers finish;
    objects they own are removed by the garbage collector.
    """
    if kind is not None and "/" in kind:  # md/chat, as get and describe take it
        if names:
            raise Failure(f"{kind!r}: name objects as KIND/NAME or as KIND NAME..., not both", EXIT_USAGE)
        kind, slashed = split_kind_name(kind, None)
        names = (slashed,) if slashed else ()
    if paths and (kind or names or all_ or selector):
        raise Failure("give either KIND NAME (or KIND --all, KIND -l SELECTOR) or -f PATH, not both", EXIT_USAGE)
    if (all_ or selector) and names:
        raise Failure(f"name objects or use {'--all' if all_ else '-l'}, not both: `laneway delete KIND NAME` or `laneway delete KIND --all`", EXIT_USAGE)
    if all_ and selector:
        raise Failure("--all and -l do not go together: -l already chooses which objects of KIND to delete", EXIT_USAGE)
    if selector:
        parse_selector(selector)  # malformed: a usage error before anything is sent

    client = open_client(ctx)
    if paths:
        targets: list[Target] = [(by_kind(o.kind), o.namespace or namespace, o.name) for o in reversed(in_apply_order(load_paths(paths)))]
    elif kind and (all_ or selector):
        info = one_kind(kind)
        targets = _listed(client, info, namespace, selector)
        if not targets:
            where = f" in namespace {namespace or DEFAULT_NAMESPACE!r}" if info.namespaced else ""
            click.echo(f"No resources found{where}.", err=True)
            return
    elif kind and names:
        info = one_kind(kind)
        targets = [(info, namespace, n) for n in names]
    else:
        raise Failure(
            "name what to delete: `laneway delete KIND NAME`, `laneway delete KIND --all [-n NS]` or `laneway delete -f PATH`",
            EXIT_USAGE,
        )
    _delete(client, targets, ignore_not_found=ignore_not_found)


def _listed(client: Client, info: KindInfo, namespace: str | None, selector: str | None) -> list[Target]:
    """Every object of the kind in the namespace (that the selector matches), by name. A caller
    who may not list there is refused here, before anything is deleted."""
    ns = namespace_for(info, namespace)
    listed = client.list(info.kind, namespace=ns, label_selector=selector)
    return [(info, obj.namespace or ns, obj.name) for obj in listed.items]


def _delete(client: Client, targets: list[Target], *, ignore_not_found: bool) -> None:
    failed = []
    for info, ns, obj_name in targets:
        try:
            client.delete(info.kind, obj_name, namespace=namespace_for(info, ns))
        except ApiError as e:
            if e.not_found and ignore_not_found:
                continue
            failed.append(f"{ref(info, obj_name)}: {e}")
            continue
        click.echo(f"{ref(info, obj_name)} deleted")
    if failed:
        raise Failure("\n".join(failed))
