"""docs/cli.md names every `laneway` command, subcommand and long flag.

A command added without its documentation is one a newcomer never finds; this walks the
real click tree (what `laneway --help` and each group's `--help` print) against the page."""

from __future__ import annotations

from pathlib import Path

import click

from laneway.cli.main import main as laneway_cli

CLI_DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def undocumented(group: click.Group, prefix: str, doc: str) -> list[str]:
    """Commands (`laneway x y`) and long flags (`laneway x: --flag`) the page never names."""
    missing: list[str] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        if full not in doc:
            missing.append(full)
        for param in command.params:
            missing.extend(f"{full}: {opt}" for opt in param.opts if opt.startswith("--") and opt not in doc)
        if isinstance(command, click.Group):
            missing.extend(undocumented(command, full, doc))
    return missing


def test_undocumented_finds_a_missing_command() -> None:
    group = click.Group("laneway", commands=[click.Command("frobnicate", params=[click.Option(["--knob"])])])
    assert undocumented(group, "laneway", "laneway other") == ["laneway frobnicate", "laneway frobnicate: --knob"]


def test_cli_doc_names_every_command_and_flag() -> None:
    assert isinstance(laneway_cli, click.Group)
    assert undocumented(laneway_cli, "laneway", CLI_DOC.read_text(encoding="utf-8")) == []
