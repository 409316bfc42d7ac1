"""The shell commands a document tells a reader to type, read from its ```sh blocks, and a
small runner that types them into a real shell the way the reader would.

A command may span lines (`\\` continuations); a trailing `# ...` is a remark; a comment line
right after a command that starts with `# error:` is the error the document says it prints
(its `...`-separated pieces must appear, in order, in what the command prints, and the command
must fail). `NAME=$(command)` keeps the command's output for the commands after it, as a
shell would.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

COMMAND_TIMEOUT = 180.0
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_REMARK = re.compile(r"\s+#\s.*$")
_CAPTURE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)$")


@dataclass(frozen=True)
class DocCommand:
    text: str
    line: int
    """1-based line in the document where the command starts."""
    error: str | None = None
    """What the document says it prints when it fails (`# error: ...`), if anything."""


def section(markdown: str, heading: str) -> tuple[str, int]:
    """The text under `heading` (a full heading line) up to the next heading of its level or
    higher, and the 1-based line it starts on."""
    lines = markdown.splitlines(keepends=True)
    level = len(heading) - len(heading.lstrip("#"))
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    if start is None:
        raise AssertionError(f"no heading {heading!r} in the document")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        stripped = lines[i].lstrip("#")
        hashes = len(lines[i]) - len(stripped)
        if 0 < hashes <= level and stripped.startswith(" ") and not _in_fence(lines, i):
            end = i
            break
    return "".join(lines[start:end]), start + 1


def _in_fence(lines: list[str], index: int) -> bool:
    return sum(1 for line in lines[:index] if line.startswith("```")) % 2 == 1


def commands(markdown: str, *, first_line: int = 1) -> list[DocCommand]:
    """Every command in the ```sh blocks of `markdown`, in order."""
    found: list[DocCommand] = []
    for block in _BLOCK.finditer(markdown):
        line = first_line + markdown.count("\n", 0, block.start(1))
        pending = ""
        pending_line = line
        for offset, raw in enumerate(block.group(1).splitlines()):
            text = raw.strip()
            if not pending and text.startswith("#"):
                if text.startswith("# error:") and found:
                    found[-1] = DocCommand(found[-1].text, found[-1].line, text.removeprefix("# error:").strip())
                continue
            if not text and not pending:
                continue
            if not pending:
                pending_line = line + offset
            if text.endswith("\\"):
                pending += text[:-1] + " "
                continue
            found.append(DocCommand(_REMARK.sub("", pending + text).strip(), pending_line))
            pending = ""
    return found


@dataclass
class Reader:
    """Types commands into `sh` in `cwd`, with `env`, keeping `NAME=$(...)` values."""

    cwd: Path
    env: Mapping[str, str]
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, command: DocCommand) -> subprocess.CompletedProcess[str]:
        capture = _CAPTURE.match(command.text)
        script = capture.group(2) if capture else command.text
        result = subprocess.run(
            ["sh", "-c", script], cwd=self.cwd, env={**os.environ, **self.env, **self.variables},
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        if capture and result.returncode == 0:
            self.variables[capture.group(1)] = result.stdout.strip()
        return result


def says(output: str, expected: str) -> bool:
    """Whether `output` holds the `...`-separated pieces of `expected`, in order."""
    at = 0
    for piece in (p.strip() for p in expected.split("...")):
        if not piece:
            continue
        found = output.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True
