"""`laneway describe` text: long annotation values shortened, no conditions for a Secret."""

from __future__ import annotations

from datetime import UTC, datetime

from cli_objects import deployment, obj

from laneway.cli.describe_view import MAX_VALUE_CHARS, describe_text

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)

SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: api-key, namespace: ml-team}
stringData: {apiKey: sk-not-shown}
"""


def test_long_annotation_values_are_shortened_and_point_at_yaml() -> None:
    history = '[{"revision": 1, "template": "' + "x" * 500 + '"}]'
    text = describe_text(deployment(**{"metadata.annotations": {"laneway.dev/revision-history": history, "short": "kept"}}),
                         related=[], now=NOW)
    line = next(row for row in text.splitlines() if "revision-history=" in row)
    assert len(line) < MAX_VALUE_CHARS + 80 and f"({len(history)} characters; see -o yaml)" in line
    assert "  short=kept" in text


def test_a_secret_has_no_conditions_section() -> None:
    text = describe_text(obj(SECRET), related=[], now=NOW)
    assert "Conditions:" not in text and "sk-not-shown" not in text
    assert "Conditions:\n  <none yet" in describe_text(deployment(), related=[], now=NOW)


def test_a_related_deployment_reads_ready_from_replicas_ready() -> None:
    from laneway.cli.describe_view import Related

    owner = deployment(status={"conditions": [{"type": "ReplicasReady", "status": "True", "reason": "Ready"}]})
    text = describe_text(obj(SECRET), related=[Related("owner", owner)], now=NOW)
    row = next(line for line in text.splitlines() if "ModelDeployment/" in line)
    assert row.split()[-1] == "True"
