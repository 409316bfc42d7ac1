"""docs/cli.md names every `laneway` command, subcommand and long flag.

A command added without its documentation is one a newcomer never finds; this walks the
real click tree (what `laneway --help` and each group's `--help` print) against the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from laneway.cli.main import main as laneway_cli

CLI_DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    """Every command under `group` as `laneway x y`, through `list_commands`/`get_command`:
    laneway's group imports its commands lazily, so `group.commands` alone is nearly empty."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        full = f"{prefix} {name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from commands(command, full)


def _named(option: str, text: str) -> bool:
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


def undocumented(group: click.Group, prefix: str, doc: str) -> list[str]:
    """What the page never names: each command (as `laneway x y` or `` `x y``, in its tables),
    and each option of a command that has its own `## laneway x y` section there, by its long
    or short spelling anywhere on the page (the common ones are described once). The other
    commands' options are documented with their parts, which the page links."""
    missing: list[str] = []
    for full, command in commands(group, prefix):
        path = full.removeprefix("laneway ")
        if full not in doc and f"`{path}" not in doc:
            missing.append(full)
        if f"\n## {full}\n" not in doc:
            continue
        for param in command.params:
            spellings = [*param.opts, *param.secondary_opts]
            if isinstance(param, click.Option) and not any(_named(o, doc) for o in spellings):
                missing.append(f"{full}: {param.opts[0]}")
    return missing


def test_undocumented_finds_a_missing_command() -> None:
    group = click.Group("laneway", commands=[click.Command("frobnicate", params=[click.Option(["--knob"])])])
    assert undocumented(group, "laneway", "laneway other") == ["laneway frobnicate"]
    sectioned = "`frobnicate`\n## laneway frobnicate\nno flags here, only --knobs\n"
    assert undocumented(group, "laneway", sectioned) == ["laneway frobnicate: --knob"]


def test_cli_doc_names_every_command_and_flag() -> None:
    assert isinstance(laneway_cli, click.Group)
    walked = {full for full, _ in commands(laneway_cli, "laneway")}
    assert {"laneway up", "laneway apply", "laneway token create"} <= walked, (
        "the control: the walk sees the lazy commands"
    )
    assert undocumented(laneway_cli, "laneway", CLI_DOC.read_text(encoding="utf-8")) == []
