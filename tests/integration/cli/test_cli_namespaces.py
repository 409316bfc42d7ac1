"""Namespaces as a newcomer meets them: a team token's only namespace is the default, contexts
choose one kubectl-style, and a not-found says where that name does exist.

Why: the examples live in `ml-team`, so `laneway get md` and `describe md sim-chat` without -n
showed nothing or a bare "not found", and a team token had to pass -n on every command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Cli, Up

MANIFESTS = Path(__file__).parent / "manifests"
# The team manifests' deployment (placed nowhere, so no engine starts), renamed.
DEPLOYMENT = (MANIFESTS / "team" / "deployment.yaml").read_text().replace("name: tiny\n", "name: lonely\n", 1)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with Up.running(tmp_path_factory.mktemp("up") / "data", local_cluster=False) as instance:
        yield instance


@pytest.fixture
def cli(up: Up, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("LANEWAY_CONFIG", str(tmp_path / "config.json"))
    cli = Cli(up.data_dir)
    applied = cli("apply", "-f", "-", input=DEPLOYMENT)
    assert applied.exit_code == 0, applied.output
    return cli


def test_a_team_token_with_one_namespace_needs_no_n(cli: Cli) -> None:
    token = cli("token", "create", "--role", "team", "--namespace", "ml-team").stdout.strip()
    listed = cli("get", "md", token=token)
    assert listed.exit_code == 0, listed.output
    assert "lonely" in listed.stdout
    described = cli("describe", "md", "lonely", token=token)
    assert described.exit_code == 0, described.output
    two = cli("token", "create", "--role", "team", "--namespace", "ml-team", "--namespace", "ml-two").stdout.strip()
    ambiguous = cli("get", "md", token=two)
    assert "namespace 'default'" in ambiguous.output, "two namespaces: no guess"


def test_not_found_names_the_namespace_that_holds_the_name(cli: Cli) -> None:
    missing = cli("describe", "md", "lonely")
    assert missing.exit_code == 1
    assert "it exists in namespace 'ml-team': add -n ml-team" in missing.output, missing.output
    got = cli("get", "md", "lonely")
    assert "add -n ml-team" in got.output
    nowhere = cli("get", "md", "nobody")
    assert nowhere.exit_code == 1 and "it exists" not in nowhere.output


def test_contexts_choose_the_default_namespace(cli: Cli, tmp_path: Path) -> None:
    assert "lonely" not in cli("get", "md").output
    unknown = cli("config", "use-context", "team")
    assert unknown.exit_code == 1 and "set-context team --namespace" in unknown.output
    assert cli("config", "set-context", "team", "--namespace", "ml-team").exit_code == 0
    assert cli("config", "use-context", "team").exit_code == 0
    assert cli("config", "current-context").stdout.strip() == "team"
    assert "lonely" in cli("get", "md").stdout
    assert "* " in cli("config", "get-contexts").stdout
    bad = cli("config", "set-context", "x", "--namespace", "Not_A_Label")
    assert bad.exit_code != 0 and "DNS-1123" in bad.output
    assert (tmp_path / "config.json").exists()
    applied = cli("apply", "-f", "-", input=DEPLOYMENT.replace("namespace: ml-team", "namespace: elsewhere"))
    assert applied.exit_code == 0, "a context's namespace is a default, not a conflict with the manifest: " + applied.output


def test_get_kind_slash_name_and_output_name(cli: Cli) -> None:
    one = cli("get", "md/lonely", "-n", "ml-team", "-o", "name")
    assert one.exit_code == 0, one.output
    assert one.stdout.strip() == "modeldeployment/lonely"
    listed = cli("get", "md", "-n", "ml-team", "-o", "name")
    assert "modeldeployment/lonely" in listed.stdout.splitlines()
