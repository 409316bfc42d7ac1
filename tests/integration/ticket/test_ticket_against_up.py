"""The ticket, rollout and audit commands against a real `laneway up` on 127.0.0.1 (no local
cluster: nothing starts engines), and `ticket check` offline as a real subprocess."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Cli, Up

from laneway.server.auth import hash_token
from laneway.server.token_admin import token_id
from laneway.store.base import TokenRecord

TICKETS = ROOT / "examples" / "tickets"
DEADLINE = 20.0


def eventually(what: str, probe: Callable[[], bool]) -> None:
    """Poll a condition the controllers reach asynchronously; fail with `what` after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if probe():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with Up.running(tmp_path_factory.mktemp("ticket-up") / "data", local_cluster=False) as instance:
        yield instance


@pytest.fixture(scope="module")
def cli(up: Up) -> Cli:
    c = Cli(up.data_dir)
    result = c("apply", "-f", str(TICKETS / "fleet.yaml"), "-f", str(TICKETS / "provider-keys.yaml"),
               "-f", str(TICKETS / "pr-review.yaml"))
    assert result.exit_code == 0, result.output
    return c


def test_offline_check_as_a_subprocess(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    good = cli.subprocess("ticket", "check", str(TICKETS / "pr-review.yaml"), "-f", str(TICKETS / "fleet.yaml"))
    assert good.returncode == 0, good.stderr
    assert "all 10 rows pass" in good.stdout
    bad = cli.subprocess("ticket", "check", str(TICKETS / "pr-review-failing.yaml"), "-f", str(TICKETS / "fleet.yaml"), "-o", "json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["failing"] == ["scaling", "endpoint", "overflow"]
    missing = cli.subprocess("ticket", "check", str(tmp_path / "nope.yaml"), "-f", str(TICKETS / "fleet.yaml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_new_and_render(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    new = cli("ticket", "new", "draft", "-n", "team")
    assert new.exit_code == 0 and "fleetBoundary:" in new.output
    draft = tmp_path / "draft.yaml"
    draft.write_text(new.output)
    check = cli("ticket", "check", str(draft), "-f", str(TICKETS / "fleet.yaml"))
    assert check.exit_code == 1 and "10 of 10 rows fail" in check.output
    rendered = cli("ticket", "render", str(TICKETS / "pr-review.yaml"), "-f", str(TICKETS / "fleet.yaml"))
    assert rendered.exit_code == 0
    kinds = [line.split(": ")[1] for line in rendered.output.splitlines() if line.startswith("kind: ")]
    assert kinds == ["ModelCache", "ModelEndpoint", "ModelDeployment", "ModelService"]


def test_new_and_check_refuse_bad_input_with_what_to_fix(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    bad_name = cli("ticket", "new", "Bad_Name")
    assert bad_name.exit_code == 2 and "DNS-1123" in bad_name.output
    no_source = cli("ticket", "new", "draft", "--from", str(TICKETS / "fleet.yaml"))
    assert no_source.exit_code == 2 and "holds no ModelDeployment" in no_source.output
    broken = tmp_path / "broken.yaml"
    broken.write_text((TICKETS / "pr-review.yaml").read_text().replace("replicas: 2", "replicas: -1"))
    check = cli("ticket", "check", str(broken), "-f", str(TICKETS / "fleet.yaml"))
    assert check.exit_code == 2 and "spec.scaling.replicas" in check.output and "nothing was applied" not in check.output
    undo_target = cli("rollout", "history", "ms/pr-review")
    assert undo_target.exit_code == 2 and "md/NAME" in undo_target.output


def test_online_check_reports_rows_and_the_controller_writes_conditions(cli: Cli) -> None:
    result = cli("ticket", "check", str(TICKETS / "pr-review.yaml"))
    # the example clusters have no kubeconfig, so none is Ready: the scheduler says so
    assert result.exit_code == 1 and "scaling" in result.output and "not Ready" in result.output

    def has_rows() -> bool:
        got = cli("get", "tk", "pr-review", "-n", "internal-tools", "-o", "json")
        doc = json.loads(got.output) if got.exit_code == 0 else {}
        types = {c["type"] for c in doc.get("status", {}).get("conditions", [])}
        return {"ModelRow", "ScalingRow", "Approved", "Composed"} <= types

    eventually("the ticket's row conditions", has_rows)


def test_the_online_check_runs_on_the_server_with_the_whole_fleet(cli: Cli) -> None:
    team = cli("token", "create", "--role", "team", "-n", "internal-tools").stdout.strip()
    as_team = cli("ticket", "check", str(TICKETS / "pr-review.yaml"), token=team)
    as_admin = cli("ticket", "check", str(TICKETS / "pr-review.yaml"))
    assert as_team.exit_code == 1 and as_team.output == as_admin.output
    scaling = next(line for line in as_team.output.splitlines() if line.strip().startswith("[ ] scaling"))
    assert "not Ready" in scaling  # the blocking reason is on the row's own line, first
    other = cli("token", "create", "--role", "team", "-n", "someone-else").stdout.strip()
    refused = cli("ticket", "check", str(TICKETS / "pr-review.yaml"), token=other)
    assert refused.exit_code != 0 and "may not check a ticket for namespace 'internal-tools'" in refused.output


def test_approve_needs_the_platform_role(cli: Cli) -> None:
    team = cli("token", "create", "--role", "team", "-n", "internal-tools").stdout.strip()
    refused = cli("ticket", "approve", "pr-review", "-n", "internal-tools", token=team)
    assert refused.exit_code == 1 and "platform or admin token" in refused.output
    platform = cli("token", "create", "--role", "platform").stdout.strip()
    eventually("the scaling row failing (no cluster is Ready)", lambda: "ScalingRow" in cli("get", "tk", "pr-review", "-n", "internal-tools", "-o", "json").output)
    failing = cli("ticket", "approve", "pr-review", "-n", "internal-tools", token=platform)
    assert failing.exit_code == 1 and "scaling" in failing.output and "--override" in failing.output
    ok = cli("ticket", "approve", "pr-review", "-n", "internal-tools", "--override", "the EU clusters join this week", token=platform)
    assert ok.exit_code == 0, ok.output
    assert "first approval of inferenceticket/pr-review" in ok.output
    doc = json.loads(cli("get", "tk", "pr-review", "-n", "internal-tools", "-o", "json").output)
    status = doc["status"]
    assert status["approved"] is True and status["approvedRole"] == "platform"
    assert status["approvedBy"] == token_id_of(platform) and status["approvedGeneration"] == doc["metadata"]["generation"]
    assert status["overriddenRows"] == ["scaling"] and status["approvalOverride"] == "the EU clusters join this week"
    assert status["approvedHash"].startswith("sha256:")


def token_id_of(token: str) -> str:
    return token_id(TokenRecord(token_sha256=hash_token(token), role="platform"))


def test_an_edit_after_approval_is_pending_and_approve_shows_the_diff(cli: Cli, tmp_path: Path) -> None:
    team = cli("token", "create", "--role", "team", "-n", "internal-tools").stdout.strip()
    platform = cli("token", "create", "--role", "platform").stdout.strip()
    ticket_doc = yaml.safe_load((TICKETS / "pr-review.yaml").read_text())
    ticket_doc["metadata"]["name"] = "pr-review-edit"
    ticket_doc["spec"]["endpoint"]["service"] = "pr-review-edit"
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump(ticket_doc))
    assert cli("apply", "-f", str(first), token=team).exit_code == 0

    def row_conditions() -> bool:
        return "ScalingRow" in cli("get", "tk", "pr-review-edit", "-n", "internal-tools", "-o", "json").output

    eventually("the row conditions", row_conditions)
    assert cli("ticket", "approve", "pr-review-edit", "-n", "internal-tools", "--override", "capacity comes", token=platform).exit_code == 0
    ticket_doc["spec"]["hardware"] = {"className": "h100-80gb"}
    ticket_doc["spec"]["sovereignty"] = {"none": "we moved the data to the US"}
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(ticket_doc))
    assert cli("apply", "-f", str(edited), token=team).exit_code == 0

    def pending() -> bool:
        doc = json.loads(cli("get", "tk", "pr-review-edit", "-n", "internal-tools", "-o", "json").output)
        return any(c["type"] == "Approved" and c["reason"] == "ChangedSinceApproval" for c in doc["status"].get("conditions", []))

    eventually("the edited ticket back to pending", pending)
    again = cli("ticket", "approve", "pr-review-edit", "-n", "internal-tools", "--override", "capacity comes", token=platform)
    assert again.exit_code == 0, again.output
    assert "changes since the approval at generation 1" in again.output
    assert '+ hardware.className: "h100-80gb"' in again.output
    assert '- sovereignty.matchLabels.laneway.dev/jurisdiction: "eu"' in again.output


def test_the_platform_switch_refuses_side_doors_and_audit_follows_owners(cli: Cli, tmp_path: Path) -> None:
    switch = tmp_path / "switch.yaml"
    switch.write_text(yaml.safe_dump({"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceGateway",
                                      "metadata": {"name": "zz-switch"}, "spec": {"tickets": {"requireTicket": ["gated"]}}}))
    # before the switch: a deployment labelled as a ticket's canary, written by hand
    manifest = ROOT / "tests" / "integration" / "cli" / "manifests" / "team" / "deployment.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["metadata"] = {"name": "labelled-canary", "namespace": "gated",
                       "labels": {"laneway.dev/canary-for": "pr-review", "laneway.dev/ticket": "pr-review"}}
    canary = tmp_path / "canary.yaml"
    canary.write_text(yaml.safe_dump(doc))
    assert cli("apply", "-f", str(canary)).exit_code == 0
    assert cli("apply", "-f", str(switch)).exit_code == 0
    team = cli("token", "create", "--role", "team", "-n", "gated").stdout.strip()

    doc["metadata"] = {"name": "labelled-canary-2", "namespace": "gated", "labels": {"laneway.dev/canary-for": "pr-review"}}
    canary.write_text(yaml.safe_dump(doc))
    refused = cli("apply", "-f", str(canary), token=team)
    assert refused.exit_code != 0 and "requireTicket" in refused.output, refused.output

    failing = yaml.safe_load((TICKETS / "pr-review-failing.yaml").read_text())
    failing["metadata"]["namespace"] = "gated"
    failing_file = tmp_path / "failing.yaml"
    failing_file.write_text(yaml.safe_dump(failing))
    rendered = cli("ticket", "render", str(failing_file), token=team)
    assert rendered.exit_code == 0, rendered.output
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered.output)
    assert cli("apply", "-f", str(out), token=team).exit_code != 0
    # as an attacker would: the rendered objects without the labels laneway keeps to itself
    stripped = [d for d in yaml.safe_load_all(rendered.output) if d]
    for d in stripped:
        d["metadata"]["labels"] = {k: v for k, v in (d["metadata"].get("labels") or {}).items() if not k.startswith("laneway.dev/")}
    out.write_text(yaml.safe_dump_all(stripped))
    applied = cli("apply", "-f", str(out), token=team)
    assert applied.exit_code != 0 and "approved InferenceTicket" in applied.output, applied.output
    for kind in ("modeldeployment", "modelservice", "modelendpoint"):
        assert f"{kind}/pr-review-big" in applied.output, applied.output
    listed = json.loads(cli("get", "md", "-n", "gated", "-o", "json").output)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["labelled-canary"]

    audit = cli("audit")
    line = next(line for line in audit.output.splitlines() if "labelled-canary" in line)
    assert "not composed from a ticket" in line and "a label is not a ticket" in line


def test_rollout_history_and_undo_and_audit(cli: Cli, tmp_path: Path) -> None:
    manifest = ROOT / "tests" / "integration" / "cli" / "manifests" / "team" / "deployment.yaml"
    text = manifest.read_text()
    assert cli("apply", "-f", str(manifest)).exit_code == 0
    name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("name:"))
    ns_lines = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("namespace:")]
    ns = ns_lines[0] if ns_lines else "default"

    def revisions() -> str:
        return cli("rollout", "history", f"md/{name}", "-n", ns).output

    eventually("revision 1", lambda: "1 (current)" in revisions())
    image = next(line.split("image:", 1)[1].strip() for line in text.splitlines() if "image:" in line)
    changed = tmp_path / "deployment.yaml"
    changed.write_text(text.replace(f"image: {image}", "image: example.com/engine:v2", 1))
    assert cli("apply", "-f", str(changed)).exit_code == 0
    eventually("revision 2", lambda: "2 (current)" in revisions())
    assert "example.com/engine:v2" in revisions()
    undo = cli("rollout", "undo", f"md/{name}", "-n", ns, "--to-revision", "1")
    assert undo.exit_code == 0, undo.output
    eventually("revision 3 restoring 1", lambda: "3 (current)" in revisions() and "rollback to revision 1" in revisions())
    bad = cli("rollout", "undo", f"md/{name}", "-n", ns, "--to-revision", "99")
    assert bad.exit_code == 2 and "kept revisions" in bad.output
    # a deployment a ticket owns: undo points at the ticket's rollback target instead
    uid = json.loads(cli("get", "tk", "pr-review", "-n", "internal-tools", "-o", "json").output)["metadata"]["uid"]
    doc = yaml.safe_load(text)
    doc["metadata"] = {"name": "owned-by-ticket", "namespace": "internal-tools", "ownerReferences": [
        {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceTicket", "name": "pr-review", "uid": uid, "controller": True}]}
    owned = tmp_path / "owned.yaml"
    owned.write_text(yaml.safe_dump(doc))
    applied = cli("apply", "-f", str(owned))
    assert applied.exit_code == 0, applied.output
    composed = cli("rollout", "undo", "md/owned-by-ticket", "-n", "internal-tools", "--to-revision", "1")
    assert composed.exit_code == 2 and "lifecycle.rollback.toRevision: 1" in composed.output, composed.output

    audit = cli("audit")
    assert audit.exit_code == 0 and name in audit.output and "not composed from a ticket" in audit.output
    wide = cli("get", "md", "-n", ns, "-o", "wide")
    assert "RETIRES" in wide.output and "TICKET" in wide.output and "OWNER" in wide.output
