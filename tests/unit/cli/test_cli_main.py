"""The `laneway` group without a server: usage errors, discovery failures, module loading."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from laneway.cli.main import load_command, main

BAD_MANIFEST = """
apiVersion: laneway.dev/v1alpha1
kind: ModelEndpoint
metadata: {name: Bad_Name}
spec: {url: ftp://nope}
"""


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None, "LANEWAY_DEBUG": None}

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), env=env, input=input)

    return invoke


def test_version(run) -> None:
    result = run("version")
    assert result.exit_code == 0 and result.output.startswith("laneway ")


def test_unknown_kind_is_usage_error_listing_known_kinds(run) -> None:
    result = run("get", "gizmos")
    assert result.exit_code == 2
    assert "unknown resource kind 'gizmos'" in result.output and "md" in result.output
    assert "Traceback" not in result.output


def test_no_server_says_to_run_laneway_up(run) -> None:
    result = run("get", "md")
    assert result.exit_code == 1
    assert "laneway up" in result.output and "LANEWAY_SERVER" in result.output


def test_unreachable_server_is_one_message(run) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        result = run("--server", f"http://127.0.0.1:{port}", "get", "md")
    assert result.exit_code == 1
    assert "cannot reach the laneway API" in result.output and "Traceback" not in result.output


def test_invalid_manifest_exits_2_with_location_before_contacting_anything(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_MANIFEST)
    result = run("apply", "-f", str(bad))
    assert result.exit_code == 2
    assert str(bad) in result.output and "document 1" in result.output
    assert "metadata.name" in result.output and "spec.url" in result.output
    assert "nothing was applied" in result.output


def test_broken_yaml_from_stdin(run) -> None:
    result = run("apply", "-f", "-", input="kind: [unclosed\n")
    assert result.exit_code == 2 and "<stdin>" in result.output and "YAML" in result.output


def test_bad_selector_is_usage_error(run) -> None:
    result = run("get", "md", "-l", "tier in ()")
    assert result.exit_code == 2 and "selector" in result.output
    assert result.output.rstrip().endswith("'tier in (gold)'")  # printed whole, closing quote included


def test_bad_wait_for_and_timeout(run) -> None:
    assert run("wait", "md", "x", "--for", "ready").exit_code == 2
    assert run("wait", "md", "x", "--for", "delete", "--timeout", "soon").exit_code == 2


def test_scale_only_deployments(run) -> None:
    result = run("scale", "ms", "x", "--replicas", "2")
    assert result.exit_code == 2 and "ModelDeployment" in result.output


def test_team_token_needs_a_namespace(run) -> None:
    result = run("token", "create", "--role", "team")
    assert result.exit_code == 2 and "--namespace" in result.output


def test_flags_after_the_command_are_accepted(run) -> None:
    result = run("get", "md", "--server", "http://127.0.0.1:1", "--token", "x")
    assert result.exit_code == 1 and "127.0.0.1:1" in result.output


def test_missing_command_module_is_skipped() -> None:
    assert load_command("laneway.cli.no_such_module_here") is None


def test_broken_command_module_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "brokenpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "thing.py").write_text("import does_not_exist_anywhere\n")
    (pkg / "fine.py").write_text("import click\n@click.command()\ndef fine():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        load_command("brokenpkg.thing")
    assert isinstance(load_command("brokenpkg.fine"), click.Command)
    for name in ("brokenpkg", "brokenpkg.thing", "brokenpkg.fine"):
        sys.modules.pop(name, None)


def test_other_parts_commands_are_registered_when_present() -> None:
    import importlib.util

    from laneway.cli.main import COMMAND_MODULES

    ctx = click.Context(main)
    for module in COMMAND_MODULES:
        present = importlib.util.find_spec(module) is not None
        name = module.rsplit(".", 1)[1]
        assert (name in main.list_commands(ctx)) == present
        if present:
            command = main.get_command(ctx, name)
            assert command is not None and command.name == name, f"{module} must export a command named {name!r}"


def test_commands_load_lazily() -> None:
    """`laneway engine sim` (what the local driver starts) must not import the scheduler,
    the Kubernetes client or the other commands: it runs as a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys; from laneway.cli.main import main; "
        "main.get_command(__import__('click').Context(main), 'engine'); "
        "print(','.join(m for m in ('laneway.placement', 'kubernetes', 'boto3', 'laneway.cli.get') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
