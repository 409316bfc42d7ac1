"""`laneway wait`: block until an object has a condition, or is gone, or time runs out."""

from __future__ import annotations

import time

import click

from laneway.api.kinds.common import parse_duration
from laneway.api.meta import Resource
from laneway.cli.context import connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import namespace_for, one_kind, ref
from laneway.cli.wait_for import BadWaitFor, is_met, parse_wait_for, progress
from laneway.client import ApiError

POLL_SECONDS = 0.5


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except ValueError as e:
        raise Failure(f"--timeout {text!r}: {e}", EXIT_USAGE) from None


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--for", "for_", required=True, metavar="condition=NAME[=STATUS]|delete", help="What to wait for.")
@click.option("--timeout", default="60s", show_default=True, help="How long to wait: '30s', '5m', or seconds.")
@namespace_option
@connection_options
@click.pass_context
def wait(ctx: click.Context, kind: str, name: str, for_: str, timeout: str, namespace: str | None) -> None:
    """Wait until KIND NAME meets --for: `--for=condition=Ready`, `--for=condition=Ready=False`,
    `--for=delete`. Exits 1 on timeout, saying where the object stands."""
    info = one_kind(kind)
    try:
        want = parse_wait_for(for_)
    except BadWaitFor as e:
        raise Failure(str(e), EXIT_USAGE) from None
    limit = _seconds(timeout)
    client = open_client(ctx)
    deadline = time.monotonic() + limit
    while True:
        obj: Resource | None
        try:
            obj = client.get(info.kind, name, namespace=namespace_for(info, namespace))
        except ApiError as e:
            if not e.not_found:
                raise
            obj = None
        if is_met(want, obj):
            click.echo(f"{ref(info, name)} {'deleted' if want.what == 'delete' else 'condition met: ' + want.condition + '=' + want.status}")
            return
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout} waiting for {want.describe()} on {ref(info, name)}: {progress(want, obj)}")
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
