"""How the CLI fails: one clear message on stderr and an exit code a script can branch on.

Exit codes: 0 ok; 1 the server refused, could not be reached, or an object was not found;
2 bad usage or invalid manifests (nothing was sent). Every exception the commands can raise
is mapped here once, at the top of `main`, so no command prints a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click

from laneway.api.errors import InvalidManifests, InvalidObject
from laneway.api.registry import UnknownKind
from laneway.api.selectors import SelectorSyntaxError
from laneway.cli.config import Connection, NoServer
from laneway.cli.reach import reach_hint
from laneway.store.base import StoreError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class Failure(click.ClickException):
    """A failure with its exit code, printed as `error: <message>`."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        # click types exit_code as a ClassVar but reads it from the instance, so each Failure keeps its own.
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def to_failure(error: BaseException, connection: Connection | None = None) -> Failure | None:
    """The Failure for an error the CLI expects; None for one it does not (a bug). `connection`
    (where the server address came from) makes an unreachable or wrong server's hint precise."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, InvalidManifests):
        n = len(error.errors)
        return Failure(f"{n} invalid manifest{'s' if n != 1 else ''}; nothing was applied\n{error}", EXIT_USAGE)
    if isinstance(error, InvalidObject):
        return Failure(str(error), EXIT_USAGE)
    if isinstance(error, (UnknownKind, SelectorSyntaxError)):
        # The message itself, not str() (which would quote a KeyError's) and not stripped of
        # quotes (which would eat the closing quote of a message that ends in one).
        return Failure(str(error.args[0]) if error.args else str(error), EXIT_USAGE)
    client = _client_failure(error, connection)
    if client is not None:
        return client
    if isinstance(error, NoServer):
        return Failure(str(error), EXIT_REFUSED)
    if isinstance(error, StoreError):  # a store that cannot be opened or reached: its own message
        return Failure(str(error), EXIT_USAGE if error.status == 400 else EXIT_REFUSED)
    return None


def _client_failure(error: BaseException, connection: Connection | None) -> Failure | None:
    """The Failure for one of the API client's errors. Only once the client is loaded: a
    command that never loaded it (`plan`, `engine sim`) cannot have raised one, and importing
    it would cost httpx on every command."""
    client = sys.modules.get("laneway.client")
    if client is None:
        return None
    if isinstance(error, client.ApiError):
        return Failure(str(error), EXIT_REFUSED)
    if isinstance(error, (client.ServerUnreachable, client.NotTheApi)):
        return Failure(f"{error}\n{reach_hint(connection)}", EXIT_REFUSED)
    if isinstance(error, client.UnreadableObject):
        return Failure(str(error), EXIT_REFUSED)
    return None


def usage_failure(error: click.UsageError) -> Failure:
    """Click's usage errors as every other failure reads: one `error:` line, then one hint with
    the command's usage and where its flags are listed, instead of click's usage block."""
    message = error.format_message().strip().rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():  # "Missing argument" -> "missing argument"; keep "NAME ..."
        message = message[0].lower() + message[1:]
    ctx = error.ctx
    if ctx is None:
        return Failure(message, EXIT_USAGE)
    usage = ctx.get_usage().removeprefix("Usage:").strip()
    return Failure(f"{message}\n  usage: {usage}  (`{ctx.command_path} --help` lists every flag)", EXIT_USAGE)


def unexpected(error: BaseException) -> Failure:
    """A bug: still one line, with the way to see more."""
    if os.environ.get("LANEWAY_DEBUG"):
        raise error
    return Failure(
        f"internal error: {error.__class__.__name__}: {error}. This is a laneway bug; "
        "rerun with LANEWAY_DEBUG=1 to see the traceback and report it",
        EXIT_REFUSED,
    )
