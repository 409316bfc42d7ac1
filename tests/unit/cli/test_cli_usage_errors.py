"""Click's usage errors read as every other failure: one `error:` line and one usage hint, exit 2,
for every command and subcommand (docs/cli.md promises it)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from test_cli_docs_complete import commands

from laneway.cli.main import main


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None, "LANEWAY_DEBUG": None}

    def invoke(*args: str):
        return runner.invoke(main, list(args), env=env)

    return invoke


def one_error(output: str) -> None:
    lines = output.strip().splitlines()
    assert lines[0].startswith("error: "), output
    assert len(lines) == 2 and lines[1].startswith("  usage: "), output
    assert "Usage:" not in output and "Traceback" not in output and "Try '" not in output


def test_missing_argument_bad_choice_unknown_flag_and_command(run) -> None:
    for args, says in [
        (("get",), "error: missing argument 'KIND[,KIND...]'"),
        (("get", "md", "--bogus"), "error: no such option '--bogus'"),
        (("nosuch",), "error: no such command 'nosuch'"),
        (("--bogus",), "error: no such option '--bogus'"),
        (("scale", "md", "x"), "error: missing option '--replicas'"),
        (("config", "set-context"), "error: missing argument 'NAME'"),
    ]:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        one_error(result.output)
        assert result.output.startswith(says), result.output
    assert "laneway get --help" in run("get").output or "get --help" in run("get").output


def test_a_bad_output_format_and_a_bad_template_are_usage_errors(run) -> None:
    bad = run("get", "md", "-o", "xml")
    assert bad.exit_code == 2 and "unknown output format 'xml'" in bad.output and "jsonpath=TEMPLATE" in bad.output
    one_error(bad.output)
    template = run("get", "md", "-o", "jsonpath={.items[")
    assert template.exit_code == 2 and "never closed" in template.output
    one_error(template.output)


def test_every_command_refuses_an_unknown_flag_in_one_line(run) -> None:
    """Walks the real command tree, so a command added later is held to it too."""
    seen = 0
    for full, command in commands(main, "laneway"):
        if isinstance(command, click.Group) or command.context_settings.get("ignore_unknown_options"):
            continue  # a command that passes unknown flags on (to an engine) has none to refuse
        path = full.split()[1:]
        result = run(*path, "--no-such-flag-anywhere")
        assert result.exit_code == 2, (full, result.output)
        one_error(result.output)
        assert "--no-such-flag-anywhere" in result.output
        seen += 1
    assert seen > 20, "the walk sees the lazy commands"


def test_a_group_alone_still_prints_its_help(run) -> None:
    result = run("ticket")
    assert "Commands:" in result.output and "error:" not in result.output
