"""The `laneway` command: a click group that gathers every part's commands.

The resource commands (apply, get, describe, delete, scale, wait, explain, edit), `token`, `version` and
`up` live in this package. Other parts contribute commands from their own modules, listed in
`COMMAND_MODULES`; each module exports a click command named by its last dotted part
(`laneway.cli.plan` exports `plan`). A module that does not exist yet is skipped silently;
one that exists but fails to import is a real error and surfaces as one.

Commands load lazily: `laneway engine sim` imports the engine's module and not the
scheduler's, the Kubernetes client or boto3, so an engine that the local driver starts (and
every short command) starts in a fraction of the time a full import takes.

Errors never reach the user as tracebacks: `LanewayGroup.invoke` maps every expected
exception to one message and an exit code (see `laneway.cli.errors`). Everything the command
prints, those messages included, passes `laneway.cli.terminal`'s filter: control characters in
text others wrote are shown, never obeyed by the terminal.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
from typing import Any

import click

from laneway import __version__
from laneway.cli.context import GlobalOptions
from laneway.cli.errors import to_failure, unexpected, usage_failure
from laneway.cli.reach import CONNECTION_KEY
from laneway.cli.terminal import terminal_streams

COMMAND_MODULES = [
    "laneway.cli.config",
    "laneway.cli.plan",
    "laneway.cli.engine",
    "laneway.cli.gateway",
    "laneway.cli.logs",
    "laneway.cli.service",
    "laneway.cli.demo",
    "laneway.cli.ticket",
    "laneway.cli.rollout",
    "laneway.cli.audit",
    "laneway.cli.render",
    "laneway.cli.cluster",
    "laneway.cli.agent",
    "laneway.cli.store",
    "laneway.cli.economics",
]

BUILTIN_MODULES = [
    "laneway.cli.apply",
    "laneway.cli.get",
    "laneway.cli.describe",
    "laneway.cli.delete",
    "laneway.cli.scale",
    "laneway.cli.wait",
    "laneway.cli.explain",
    "laneway.cli.edit",
    "laneway.cli.token",
    "laneway.cli.up",
]


def _module_exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def command_modules() -> dict[str, str]:
    """Command name -> the module that defines it."""
    return {m.rsplit(".", 1)[1]: m for m in [*BUILTIN_MODULES, *COMMAND_MODULES]}


class LanewayGroup(click.Group):
    """A group whose every failure is one clear message, never a traceback, and whose
    commands are imported only when used (or listed by --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = {name for name, module in command_modules().items() if _module_exists(module)}
        return sorted(set(super().list_commands(ctx)) | lazy)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in command_modules():
            command = load_command(command_modules()[cmd_name])
            if command is not None:
                self.add_command(command, cmd_name)
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The whole command, its error message included, prints through the terminal filter
        (`laneway.cli.terminal`): no text a team or an engine wrote acts on the terminal."""
        with terminal_streams():
            return super().main(*args, **kwargs)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """The group's own flags (`laneway --bogus`) fail as one `error:` line too."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise usage_failure(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `laneway ticket` alone prints the group's help, as kubectl does
        except click.UsageError as error:  # a subcommand's bad flag or missing argument, an unknown command
            raise usage_failure(error) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:
            failure = to_failure(error, ctx.meta.get(CONNECTION_KEY))
            raise (failure if failure is not None else unexpected(error)) from None


def load_command(module_name: str) -> click.Command | None:
    """The click command a module exports, or None when the module does not exist (yet)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return None
    module = importlib.import_module(module_name)  # errors inside an existing module surface
    name = module_name.rsplit(".", 1)[1]
    command = getattr(module, name, None)
    if not isinstance(command, click.Command):
        raise RuntimeError(f"{module_name} should export a click command named {name!r}")
    return command


@click.group(cls=LanewayGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--server", default=None, metavar="URL", help="API address (else LANEWAY_SERVER, else the current context's, else the local `laneway up`).")
@click.option("--token", default=None, metavar="TEXT", help="Bearer token (else LANEWAY_TOKEN, else the local admin token).")
@click.option("--data-dir", default=None, metavar="DIR", help="Data directory of a local `laneway up` (else LANEWAY_DATA_DIR, else ~/.laneway).")
@click.pass_context
def main(ctx: click.Context, server: str | None, token: str | None, data_dir: str | None) -> None:
    """laneway: a fleet control plane for self-hosted LLM inference.

    Platform teams publish capacity (clusters, classes, a gateway); ML teams declare what a
    model needs and get one OpenAI-compatible URL. Start with `laneway up`.
    """
    ctx.obj = GlobalOptions(server=server, token=token, data_dir=data_dir)


@main.command()
def version() -> None:
    """Print laneway's version."""
    click.echo(f"laneway {__version__}")


def run() -> None:
    """The `laneway` program: `main`, then an exit that skips the interpreter's last full
    garbage collection. At exit CPython walks every object still alive once more for cycles
    (a tenth of a second after `laneway plan` on a thousand-cluster fleet) only to free what
    the operating system frees anyway; freezing them first leaves that walk nothing to do.
    Only for the program itself: a test that invokes `main` in its own process keeps its
    collector as it was."""
    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":  # `python -m laneway.cli.main`, as tests run it with the same interpreter
    run()
