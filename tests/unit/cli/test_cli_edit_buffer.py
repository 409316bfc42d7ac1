"""What `laneway edit` shows the editor and makes of what comes back."""

from __future__ import annotations

import pytest

from laneway.cli.edit import editor_command
from laneway.cli.edit_buffer import (
    HEADER,
    buffer_text,
    identity_changes,
    only_status_changed,
    parse_buffer,
    without_header,
)
from laneway.cli.errors import Failure

DOC = {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "chat", "namespace": "ml-team"}}


def test_the_header_and_the_last_problems_are_comments_above_the_text() -> None:
    text = buffer_text("spec: {}\n", ["first line\n  second line"])
    assert text.startswith(HEADER)
    assert "#   first line\n#     second line\n" in text
    assert without_header(text) == "spec: {}\n"


def test_only_the_leading_comment_block_is_removed() -> None:
    body = "spec:\n  script: |\n    # a comment inside the user's script\n    run\n"
    assert without_header(buffer_text(body)) == body
    assert parse_buffer(buffer_text(body)).document == {"spec": {"script": "# a comment inside the user's script\nrun\n"}}


def test_empty_broken_and_non_mapping_text() -> None:
    assert parse_buffer(HEADER).document is None and not parse_buffer(HEADER).problem
    assert "not valid YAML" in parse_buffer("spec: [unclosed\n").problem
    assert "one object" in parse_buffer("- a\n- b\n").problem


def test_which_object_is_written_cannot_change() -> None:
    assert identity_changes(DOC, DOC) == []
    moved = {**DOC, "metadata": {"name": "chat", "namespace": "other-team"}}
    problems = identity_changes(DOC, moved)
    assert len(problems) == 1 and problems[0].startswith("metadata.namespace cannot be changed")
    renamed = {**DOC, "kind": "ModelService", "metadata": {"name": "x", "namespace": "ml-team"}}
    assert [p.split()[0] for p in identity_changes(DOC, renamed)] == ["kind", "metadata.name"]


def test_the_editor_is_chosen_and_split_as_a_shell_would() -> None:
    assert editor_command({"LANEWAY_EDITOR": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "'my editor' -f"}) == ["my editor", "-f"]
    assert editor_command({}) == ["vi"]
    with pytest.raises(Failure):
        editor_command({"EDITOR": "'unclosed"})


def test_a_status_only_edit_is_told_apart() -> None:
    with_status = {**DOC, "spec": {"replicas": 1}, "status": {"phase": "Ready"}}
    assert only_status_changed(with_status, {**with_status, "status": {"phase": "Failed"}})
    assert not only_status_changed(with_status, {**with_status, "spec": {"replicas": 2}})
