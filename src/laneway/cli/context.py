"""What every client command shares: connection flags, the namespace flag, and the Client.

The connection flags (`--server`, `--token`, `--data-dir`) are accepted both before the
command (`laneway --server URL get md`) and after it (`laneway get md --server URL`); the later
one wins. Commands written by other parts (plan, engine, gateway, logs) use the same helpers:

    @click.command()
    @connection_options
    @click.pass_context
    def plan(ctx, ...):
        client = open_client(ctx)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from laneway.cli.config import Connection, discover
from laneway.cli.contexts import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from laneway.cli.contexts import context_namespace, context_server, default_namespace
from laneway.cli.reach import CONNECTION_KEY

if TYPE_CHECKING:  # the client (and httpx under it) loads only for commands that talk to a server
    from laneway.client import Client

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    server: str | None = None
    token: str | None = None
    data_dir: str | None = None


def _remember(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(GlobalOptions), field, value)

    return callback


def connection_options(f: F) -> F:
    """Add --server, --token and --data-dir to a command (stored, not passed as arguments)."""
    for name, field, help_ in reversed(
        (
            ("--server", "server", "API address, e.g. http://127.0.0.1:8470 (else LANEWAY_SERVER, else the current context's, else the local `laneway up`)."),
            ("--token", "token", "Bearer token (else LANEWAY_TOKEN, else the local admin token)."),
            ("--data-dir", "data_dir", "Data directory of a local `laneway up` (else LANEWAY_DATA_DIR, else ~/.laneway)."),
        )
    ):
        f = click.option(
            name, metavar="TEXT" if field != "data_dir" else "DIR", default=None, expose_value=False,
            is_eager=True, callback=_remember(field), help=help_,
        )(f)
    return f


_GIVEN = "laneway.namespace_given"


def namespace_given(ctx: click.Context) -> bool:
    """Whether -n was on the command line (not filled from a context or the token)."""
    return bool(ctx.meta.get(_GIVEN, False))


def _token_namespaces(ctx: click.Context) -> list[str] | None:
    """The namespaces the caller's token is limited to, or None when the server cannot say."""
    opts = global_options(ctx)
    try:
        from laneway.client import Client

        conn = connection(opts)
        with Client(conn.server, conn.token) as client:
            answer = client.request("GET", "/apis/laneway.dev/v1alpha1/whoami")
    except Exception:
        return None
    names = answer.get("namespaces") if isinstance(answer, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def _resolve_namespace(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """`-n`, else the current context's namespace, else the token's only namespace, else default."""
    ctx.meta[_GIVEN] = bool(value)
    if value:
        return value
    from_context = context_namespace(os.environ)
    if from_context:
        return from_context
    return default_namespace(None, _token_namespaces(ctx))


def namespace_option(f: F) -> F:
    return click.option(
        "-n", "--namespace", default=None, metavar="NS", callback=_resolve_namespace,
        help=f"Namespace of namespaced kinds (default: the current context's (`laneway config use-context`), "
        f"else the token's when it has exactly one, else {DEFAULT_NAMESPACE!r}).",
    )(f)


def connection(opts: GlobalOptions) -> Connection:
    """Which server and token this invocation uses (laneway.cli.config says in which order)."""
    return discover(
        server_flag=opts.server, token_flag=opts.token, data_dir_flag=opts.data_dir, env=os.environ,
        context=context_server(os.environ),
    )


def global_options(ctx: click.Context) -> GlobalOptions:
    return ctx.ensure_object(GlobalOptions)


def open_client(ctx: click.Context) -> Client:
    """The Client for this invocation, closed when the command ends."""
    from laneway.client import Client

    conn = connection(global_options(ctx))
    ctx.meta[CONNECTION_KEY] = conn  # for the hint an unreachable or wrong server gets (laneway.cli.reach)
    client = Client(conn.server, conn.token)
    ctx.call_on_close(client.close)
    return client
