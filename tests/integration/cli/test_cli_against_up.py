"""The real CLI against a real `laneway up` subprocess: apply, get, describe, scale, wait,
delete, tokens and the two lanes; then a clean shutdown with nothing left running."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cli_harness import Cli, Up

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
MANIFESTS = Path(__file__).parent / "manifests"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    # No `local` cluster: nothing in these manifests may start engine processes, wherever CI runs.
    with Up.running(tmp_path_factory.mktemp("up") / "data", local_cluster=False) as instance:
        yield instance
    assert "laneway stopped." in instance.output
    assert not (instance.data_dir / "server.json").exists()


@pytest.fixture(scope="module")
def cli(up: Up) -> Cli:
    return Cli(up.data_dir)


@pytest.fixture(scope="module")
def applied(cli: Cli) -> None:
    result = cli("apply", "-f", str(EXAMPLES / "platform"))
    assert result.exit_code == 0, result.output
    result = cli("apply", "-f", str(MANIFESTS / "team"))
    assert result.exit_code == 0, result.output


def test_up_prints_where_everything_is(up: Up) -> None:
    out = up.output
    assert f"http://127.0.0.1:{up.port}" in out
    assert str(up.data_dir) in out and "admin.token" in out
    assert "laneway apply -f examples/" in out
    info = json.loads((up.data_dir / "server.json").read_text())
    assert info["server"] == f"http://127.0.0.1:{up.port}"


def test_apply_examples_then_again_is_unchanged(cli: Cli, applied: None) -> None:
    again = cli("apply", "-f", str(EXAMPLES / "platform"))
    assert again.exit_code == 0, again.output
    lines = again.stdout.splitlines()
    assert lines and all(line.endswith(" unchanged") for line in lines), again.output
    assert "inferencegateway/front-door unchanged" in lines


def test_apply_prints_created_and_configured(cli: Cli, applied: None, tmp_path: Path) -> None:
    manifest = (MANIFESTS / "team" / "deployment.yaml").read_text().replace("name: tiny", "name: tiny-two")
    path = tmp_path / "md.yaml"
    path.write_text(manifest)
    assert cli("apply", "-f", str(path)).stdout.strip() == "modeldeployment/tiny-two created"
    path.write_text(manifest.replace("replicas: 1", "replicas: 2"))
    assert cli("apply", "-f", str(path)).stdout.strip() == "modeldeployment/tiny-two configured"
    assert cli("delete", "-f", str(path)).stdout.strip() == "modeldeployment/tiny-two deleted"


def test_apply_modelplane_examples_unchanged(cli: Cli) -> None:
    result = cli("apply", "-f", str(EXAMPLES / "modelplane"))
    assert result.exit_code == 0, result.output
    assert "modeldeployment/" in result.stdout


def test_apply_from_stdin(cli: Cli, applied: None) -> None:
    text = (MANIFESTS / "team" / "service.yaml").read_text()
    result = cli("apply", "-f", "-", input=text)
    assert result.exit_code == 0, result.output
    assert "modelservice/tiny unchanged" in result.stdout
    assert "secret/provider-key configured" in result.stdout  # secret values cannot be compared


def test_get_table_wide_and_all_namespaces(cli: Cli, applied: None) -> None:
    table = cli("get", "md", "-n", "ml-team")
    assert table.exit_code == 0, table.output
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "READY", "REPLICAS", "STATUS"] and header.split()[-1] == "AGE"
    assert any(r.split()[:2] == ["tiny", "0/1"] for r in rows)

    wide = cli("get", "md", "-n", "ml-team", "-o", "wide")
    assert "IMAGES" in wide.stdout and "laneway/sim" in wide.stdout

    everywhere = cli("get", "md,ms", "-A")
    assert everywhere.stdout.splitlines()[0].split()[0] == "NAMESPACE"
    assert "modeldeployment/tiny" in everywhere.stdout and "modelservice/tiny" in everywhere.stdout

    clusters = cli("get", "ic")
    assert "local-eu" in clusters.stdout and "SOURCE" in clusters.stdout


def test_get_json_and_yaml(cli: Cli, applied: None) -> None:
    one = json.loads(cli("get", "md", "tiny", "-n", "ml-team", "-o", "json").stdout)
    assert one["kind"] == "ModelDeployment" and one["metadata"]["uid"]
    many = json.loads(cli("get", "me,ms", "-n", "ml-team", "-o", "json").stdout)
    assert many["kind"] == "List" and {i["kind"] for i in many["items"]} == {"ModelEndpoint", "ModelService"}
    as_yaml = yaml.safe_load(cli("get", "ms", "tiny", "-n", "ml-team", "-o", "yaml").stdout)
    assert as_yaml["spec"]["owner"]["team"] == "ml"


def test_get_with_label_selector(cli: Cli, applied: None) -> None:
    hit = json.loads(cli("get", "me", "-n", "ml-team", "-l", "tier=overflow", "-o", "json").stdout)
    assert [i["metadata"]["name"] for i in hit["items"]] == ["tiny-overflow"]
    miss = cli("get", "me", "-n", "ml-team", "-l", "tier in (primary)")
    assert miss.exit_code == 0 and "No resources found" in miss.output


def test_secrets_are_never_printed(cli: Cli, applied: None) -> None:
    for output in ("json", "yaml", "table"):
        result = cli("get", "secrets", "provider-key", "-n", "ml-team", "-o", output)
        assert result.exit_code == 0, result.output
        assert "sk-test-not-a-real-key" not in result.output
        assert "c2stdGVzdC1ub3QtYS1yZWFsLWtleQ" not in result.output  # nor its base64


def test_get_missing_object_exits_1(cli: Cli, applied: None) -> None:
    result = cli("get", "md", "nope", "-n", "ml-team")
    assert result.exit_code == 1 and "not found" in result.output


def test_describe_shows_fields_conditions_and_related(cli: Cli, applied: None, tmp_path: Path) -> None:
    cli("wait", "md", "tiny", "-n", "ml-team", "--for=condition=ReplicasScheduled=False", "--timeout", "30s")
    uid = json.loads(cli("get", "md", "tiny", "-n", "ml-team", "-o", "json").stdout)["metadata"]["uid"]
    owned = tmp_path / "owned.yaml"
    owned.write_text(
        "apiVersion: laneway.dev/v1alpha1\nkind: ModelEndpoint\n"
        "metadata:\n  name: tiny-owned\n  namespace: ml-team\n"
        f"  ownerReferences: [{{kind: ModelDeployment, name: tiny, uid: {uid}}}]\n"
        "spec: {url: 'http://127.0.0.1:9/v1'}\n"
    )
    assert cli("apply", "-f", str(owned)).exit_code == 0

    result = cli("describe", "md", "tiny", "-n", "ml-team")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for section in ("Name:", "Namespace:", "Spec:", "Conditions:", "Related:"):
        assert section in text
    assert "ReplicasScheduled" in text and "nowhere" in text
    assert "owned" in text and "ModelEndpoint/tiny-owned" in text

    back = cli("describe", "me", "tiny-owned", "-n", "ml-team").stdout
    assert "owner" in back and "ModelDeployment/tiny" in back
    assert cli("delete", "-f", str(owned)).exit_code == 0


def test_bad_manifests_exit_2_with_location_and_nothing_stored(cli: Cli, applied: None) -> None:
    result = cli("apply", "-f", str(MANIFESTS / "bad"))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "document 1" in result.output
    assert "spec.replicas" in result.output and "nothing was applied" in result.output
    assert "Traceback" not in result.output
    assert cli("get", "me", "should-not-exist", "-n", "ml-team").exit_code == 1


def test_a_selector_that_does_not_compile_is_refused_by_apply(cli: Cli, applied: None, tmp_path: Path) -> None:
    """The server compiles device selectors at admission: apply exits 1 naming the field and
    the compiler's caret, and nothing is stored (before, it was accepted and failed later in status)."""
    bad = 'device.driver == "cpu.laneway.dev" &&'
    manifest = (MANIFESTS / "team" / "deployment.yaml").read_text().replace("name: tiny", "name: tiny-bad-cel")
    path = tmp_path / "md.yaml"
    path.write_text(manifest.replace('cel: device.driver == "cpu.laneway.dev"', f"cel: '{bad}'"))
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 1, result.output
    assert "modeldeployment/tiny-bad-cel refused" in result.output
    assert "spec.template.spec.engines[0].members[0].nodeSelector.devices[0].selectors[0].cel" in result.output
    assert "does not compile" in result.output and bad in result.output and "^" in result.output
    assert result.output.count("does not compile") == 1, "the compiler's message is printed once"
    assert "Traceback" not in result.output
    assert cli("get", "md", "tiny-bad-cel", "-n", "ml-team").exit_code == 1


def test_scale(cli: Cli, applied: None) -> None:
    result = cli("scale", "md", "tiny", "-n", "ml-team", "--replicas", "3")
    assert result.exit_code == 0 and "scaled to 3" in result.stdout
    assert json.loads(cli("get", "md", "tiny", "-n", "ml-team", "-o", "json").stdout)["spec"]["replicas"] == 3
    assert cli("scale", "md", "tiny", "-n", "ml-team", "--replicas", "1").exit_code == 0


def test_wait_for_condition_and_timeout(cli: Cli, applied: None) -> None:
    met = cli("wait", "md", "tiny", "-n", "ml-team", "--for=condition=ReplicasScheduled=False", "--timeout", "30s")
    assert met.exit_code == 0, met.output
    timed_out = cli("wait", "md", "tiny", "-n", "ml-team", "--for=condition=ReplicasReady", "--timeout", "1s")
    assert timed_out.exit_code == 1
    assert "timed out after 1s" in timed_out.output and "ReplicasReady is False" in timed_out.output


def test_delete_and_wait_for_delete(cli: Cli, applied: None, tmp_path: Path) -> None:
    path = tmp_path / "gone.yaml"
    path.write_text((MANIFESTS / "team" / "deployment.yaml").read_text().replace("name: tiny", "name: doomed"))
    assert cli("apply", "-f", str(path)).exit_code == 0
    deleted = cli("delete", "md", "doomed", "-n", "ml-team")
    assert deleted.exit_code == 0 and "modeldeployment/doomed deleted" in deleted.stdout
    waited = cli("wait", "md", "doomed", "-n", "ml-team", "--for=delete", "--timeout", "30s")
    assert waited.exit_code == 0, waited.output
    again = cli("delete", "md", "doomed", "-n", "ml-team")
    assert again.exit_code == 1 and "not found" in again.output
    assert cli("delete", "md", "doomed", "-n", "ml-team", "--ignore-not-found").exit_code == 0


def test_team_token_is_refused_an_inference_cluster(cli: Cli, applied: None) -> None:
    created = cli("token", "create", "--role", "team", "--namespace", "ml-team", "--namespace", "ml-two")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token and "\n" not in token

    refused = cli("apply", "-f", str(EXAMPLES / "platform" / "clusters.yaml"), token=token)
    assert refused.exit_code == 1
    assert "Forbidden" in refused.output and "platform" in refused.output

    outside = cli("get", "md", "-n", "default", token=token)
    assert outside.exit_code == 1 and "Forbidden" in outside.output

    own = cli("get", "md", "-n", "ml-team", token=token)
    assert own.exit_code == 0 and "tiny" in own.stdout


def test_platform_token_may_publish_clusters(cli: Cli, applied: None) -> None:
    token = cli("token", "create", "--role", "platform").stdout.strip()
    result = cli("apply", "-f", str(EXAMPLES / "platform" / "clusters.yaml"), token=token)
    assert result.exit_code == 0, result.output


def test_unknown_token_is_refused(cli: Cli, applied: None) -> None:
    result = cli("get", "md", token="lw_not-a-token")
    assert result.exit_code == 1 and "Unauthorized" in result.output


def test_real_entry_point_exit_codes(cli: Cli, applied: None) -> None:
    ok = cli.subprocess("get", "md", "tiny", "-n", "ml-team", "-o", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["metadata"]["name"] == "tiny"
    usage = cli.subprocess("get", "nonsense")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    missing = cli.subprocess("describe", "md", "nope", "-n", "ml-team")
    assert missing.returncode == 1 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr


def test_client_patch_list_and_watch(up: Up, applied: None) -> None:
    from laneway.cli.config import discover
    from laneway.client import ApiError, Client

    conn = discover(server_flag=None, token_flag=None, data_dir_flag=str(up.data_dir), env={})
    with Client(conn.server, conn.token) as client:
        patched = client.patch("ms", "tiny", {"metadata": {"labels": {"patched": "yes"}}}, namespace="ml-team")
        assert patched.metadata.labels["patched"] == "yes" and patched.metadata.labels["app"] == "tiny"
        listed = client.list("ms", namespace="ml-team", label_selector="patched=yes")
        assert [o.name for o in listed.items] == ["tiny"] and listed.resource_version

        events = client.watch("ms", namespace="ml-team", timeout=10)
        first = next(events)
        assert first.type == "ADDED" and first.object.kind == "ModelService"
        events.close()

        with pytest.raises(ApiError) as e:
            client.get("md", "nope", namespace="ml-team")
        assert e.value.not_found and e.value.reason == "NotFound"
