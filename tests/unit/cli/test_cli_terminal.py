"""The terminal filter every `laneway` command prints through (`laneway.cli.terminal`)."""

from __future__ import annotations

import io
import sys

import click
import pytest
from click.testing import CliRunner

from laneway.cli.main import main
from laneway.cli.terminal import TerminalText, echo_styled, terminal_streams, visible


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[2J", "^[[2J"),
    ("\x1b]52;c;aGk=\x07", "^[]52;c;aGk=^G"),
    ("ok\rEVIL", "ok^MEVIL"),
    ("\x7f\x00", "^?^@"),
    ("\x9b31m\x85", "\\x9b31m\\x85"),
    ("lines\nand\ttabs stay, ünïcode too", "lines\nand\ttabs stay, ünïcode too"),
    ("eu\u202e  su", "eu<U+202E>  su"),  # a right-to-left override would show this label reversed
    ("\u2066isolated\u2069", "<U+2066>isolated<U+2069>"),
    ("arabic \u0627\u0644 and hebrew \u05e9 text stay", "arabic \u0627\u0644 and hebrew \u05e9 text stay"),
])
def test_control_characters_are_shown_not_obeyed(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_the_stream_filters_text_and_passes_the_rest_through() -> None:
    under = io.StringIO()
    stream = TerminalText(under)
    assert stream.write("a\x1bb") == 3
    stream.writelines(["\x07", "c\n"])
    assert under.getvalue() == "a^[b^Gc\n"
    assert stream.isatty() is False and stream.getvalue() == under.getvalue()


def test_streams_are_filtered_only_while_the_block_runs() -> None:
    before = sys.stdout, sys.stderr
    with terminal_streams():
        assert isinstance(sys.stdout, TerminalText) and isinstance(sys.stderr, TerminalText)
        with terminal_streams():
            assert not isinstance(sys.stdout.unfiltered, TerminalText), "never wrapped twice"
    assert (sys.stdout, sys.stderr) == before


@click.command()
def _prints() -> None:
    click.echo("table \x1b]0;title\x07 cell")
    echo_styled("==> replica\x1b[2J <==", bold=True)
    raise click.ClickException("server said \x1b[8mhidden")


def test_a_command_output_its_error_and_laneways_own_bold_on_a_terminal() -> None:
    main.add_command(_prints, "zz-prints")
    try:
        result = CliRunner().invoke(main, ["zz-prints"], color=True)
    finally:
        main.commands.pop("zz-prints")
    assert "table ^[]0;title^G cell" in result.output
    assert "\x1b[1m==> replica^[[2J <==\x1b[0m" in result.output, "laneway's bold kept, the text's escape shown"
    assert "server said ^[[8mhidden" in result.output
    assert result.output.count("\x1b") == 2
