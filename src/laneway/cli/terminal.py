"""Everything the CLI prints reaches a person's terminal through one filter.

Much of what `laneway get`, `describe`, `logs`, `wait` and the server's error messages show is
free text a team or an engine wrote: label and annotation values, ticket rows, status and
condition messages, engine log tails. Printed as written, an escape sequence in it would act
on the operator's terminal: clear the screen, hide or overwrite text (`\\r`, SGR conceal),
retitle the window, or write the clipboard (OSC 52). So while the `laneway` command runs,
its stdout and stderr replace every C0 and C1 control character other than newline and tab
with a visible form (`ESC` -> `^[`, `DEL` -> `^?`, `0x9b` -> `\\x9b`), and so are Unicode's
bidirectional overrides and isolates (`U+202E` -> `<U+202E>`), which reorder what a line
shows; whatever the command and whatever printed it.

`-o json` and `-o yaml` carry no raw control characters to begin with (json escapes them as
`\\u001b`, the YAML dumper as `"\\e"`), so they pass unchanged and still read back to the
exact value; `-o jsonpath=` prints values bare and so shows them in the visible form.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TextIO, cast

import click

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls but newline and tab, and Unicode's bidirectional embeddings, overrides
and isolates: those reorder how the rest of a line is shown ("Trojan Source"), so a team's
label could make a table row read as something it is not."""


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFF:
        return f"<U+{code:04X}>"
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"\\x{code:02x}"


def visible(text: str) -> str:
    """`text` with its control characters (other than newline and tab) shown, not obeyed."""
    return _CONTROL.sub(_shown, text)


class TerminalText:
    """A text stream that writes `visible(text)` to the stream it wraps; everything else
    (encoding, isatty, flush, fileno) is the wrapped stream's, so click treats it as that one."""

    def __init__(self, stream: TextIO) -> None:
        self.unfiltered = stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # bytes: the wrapped text stream refuses them as it would
            return self.unfiltered.write(text)
        self.unfiltered.write(visible(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unfiltered, name)


def _guarded(stream: TextIO | None) -> TextIO | None:
    if stream is None or isinstance(stream, TerminalText):
        return stream
    return cast(TextIO, TerminalText(stream))


@contextmanager
def terminal_streams() -> Iterator[None]:
    """stdout and stderr filtered for as long as the block runs (one `laneway` command,
    error messages included), then put back as they were."""
    saved = sys.stdout, sys.stderr
    guarded_out, guarded_err = _guarded(sys.stdout), _guarded(sys.stderr)
    if guarded_out is not None:
        sys.stdout = guarded_out
    if guarded_err is not None:
        sys.stderr = guarded_err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def unfiltered(stream: IO[Any]) -> IO[Any]:
    """The stream under the filter, for laneway's own styling escapes (never for its text)."""
    return cast(IO[Any], stream.unfiltered) if isinstance(stream, TerminalText) else stream


def echo_styled(text: str, **style: Any) -> None:
    """One line in laneway's own style (a bold heading): the text made visible first, then
    styled past the filter, since the style's escapes are laneway's and the text may not be."""
    click.secho(visible(text), file=unfiltered(sys.stdout), **style)
