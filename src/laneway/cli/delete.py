"""`laneway delete`: one object by kind and name, or every object in manifests."""

from __future__ import annotations

import click

from laneway.api.manifest import load_paths
from laneway.api.registry import by_kind
from laneway.cli.apply import in_apply_order
from laneway.cli.context import connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import namespace_for, one_kind, ref
from laneway.client import ApiError


@click.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@click.option("-f", "--filename", "paths", multiple=True, metavar="PATH", help="Delete the objects in these files, directories or '-' (stdin).")
@namespace_option
@click.option("--ignore-not-found", is_flag=True, help="An object that does not exist is not an error.")
@connection_options
@click.pass_context
def delete(
    ctx: click.Context,
    kind: str | None,
    name: str | None,
    paths: tuple[str, ...],
    namespace: str | None,
    ignore_not_found: bool,
) -> None:
    """Delete KIND NAME, or the objects named in -f PATH.

    Objects with finalizers are marked for deletion and go once their controllers finish;
    objects they own are removed by the garbage collector.
    """
    if paths and (kind or name):
        raise Failure("give either KIND NAME or -f PATH, not both", EXIT_USAGE)
    if paths:
        targets = [(by_kind(o.kind), o.namespace or namespace, o.name) for o in reversed(in_apply_order(load_paths(paths)))]
    elif kind and name:
        info = one_kind(kind)
        targets = [(info, namespace, name)]
    else:
        raise Failure("name what to delete: `laneway delete KIND NAME` or `laneway delete -f PATH`", EXIT_USAGE)

    client = open_client(ctx)
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
