"""The quick starts, typed as a reader would: every command of README.md's "Quick start" and of
docs/quickstart.md, read from the documents themselves (so a document that drifts from what
the commands do fails here), run in order in a shell against a real `laneway up` on free ports
in a temporary data directory. Each must succeed, or fail with the error the document shows;
each `curl` must get an OpenAI answer.

The install steps and `laneway demo` are not typed here (this test runs inside an installed
environment; tests/integration/cli/test_install_script.py runs install.sh, and
tests/integration/local/test_local_demo.py the demo), but they must still be in the documents
as written below, so a change to them is noticed too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Up, cli_env, free_port
from doc_commands import DocCommand, Reader, commands, says, section

ROOT = Path(__file__).resolve().parents[3]
DOC_API = "127.0.0.1:8470"
DOC_GATEWAY = "127.0.0.1:8471"

NOT_TYPED = {
    "python3 -m venv .venv && . .venv/bin/activate": "the install: test_install_script.py",
    "./install.sh": "the install: test_install_script.py",
    "laneway demo": "the demo: test_local_demo.py",
    "laneway up": "started by this test, on free ports and a temporary data directory",
}
DEMO_URL = f"http://{DOC_GATEWAY}/demo/"


def _typed(found: list[DocCommand]) -> list[DocCommand]:
    """The commands this test types; asserts the others are the ones it knows to leave out."""
    typed = []
    for command in found:
        if command.text in NOT_TYPED or (command.text.startswith("curl") and DEMO_URL in command.text):
            continue
        assert not command.text.startswith(("./install.sh", "laneway demo", "laneway up")), (
            f"line {command.line}: {command.text!r} changed; update NOT_TYPED in this test if the document means it"
        )
        typed.append(command)
    return typed


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    # No model hub: nothing in the quick starts may download (a cache stages only when needed).
    with Up.running(tmp_path / "data", env={"HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}) as instance:
        yield instance


def _reader(up: Up, tmp_path: Path) -> Reader:
    shims = tmp_path / "bin"
    shims.mkdir()
    laneway = shims / "laneway"
    laneway.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m laneway.cli.main "$@"\n')
    laneway.chmod(0o755)
    env = cli_env(up.data_dir, LANEWAY_CONFIG=str(tmp_path / "config.json"))
    env["PATH"] = f"{shims}:{env.get('PATH', '')}"
    return Reader(cwd=ROOT, env=env)


def _type_all(found: list[DocCommand], reader: Reader, up: Up, document: str) -> list[str]:
    """Type every command in order; returns what each printed (for the caller's own checks)."""
    printed = []
    for command in _typed(found):
        text = command.text.replace(DOC_GATEWAY, f"127.0.0.1:{up.gateway_port}").replace(DOC_API, f"127.0.0.1:{up.port}")
        result = reader.run(DocCommand(text, command.line, command.error))
        output = result.stdout + result.stderr
        where = f"{document} line {command.line}: {command.text}\n{output}\n--- laneway up ---\n{up.output[-4000:]}"
        assert "Traceback" not in output, where
        if command.error is not None:
            assert result.returncode != 0, f"the document says this fails: {where}"
            assert says(output, command.error), f"the document says it prints {command.error!r}: {where}"
        else:
            assert result.returncode == 0, where
        if command.text.startswith("curl"):
            answer = json.loads(result.stdout)
            assert answer["choices"][0]["message"]["content"], where
        printed.append(result.stdout)
    return printed


def test_the_readme_quick_start_as_written(up: Up, tmp_path: Path) -> None:
    text, first_line = section((ROOT / "README.md").read_text(), "## Quick start")
    found = commands(text, first_line=first_line)
    assert [c.text for c in found[:3]] == ["python3 -m venv .venv && . .venv/bin/activate", "./install.sh", "laneway demo"]
    printed = _type_all(found, _reader(up, tmp_path), up, "README.md")
    assert len(printed) >= 7, "apply, apply, wait, get, describe, curl, token create"
    assert len(printed[-1].strip()) >= 20 and " " not in printed[-1].strip(), "the token is printed, alone"


def test_the_quickstart_guide_as_written(up: Up, tmp_path: Path) -> None:
    text = (ROOT / "docs" / "quickstart.md").read_text()
    found = commands(text)
    assert any(c.error for c in found), "the guide shows a refused team write; it is checked"
    printed = _type_all(found, _reader(up, tmp_path), up, "docs/quickstart.md")
    assert len(printed) >= 15
