"""`laneway explain`: fields resolved through the server's own OpenAPI schemas, arrays stepped
through, constraints in words, and an unknown field told what exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from laneway.cli.main import main
from laneway.cli.schema_view import UnknownField, constraints, explain_text, resolve, type_name
from laneway.server.openapi import build_openapi

DOC = build_openapi()


def test_a_field_is_resolved_with_whether_it_is_required() -> None:
    found = resolve(DOC, "ModelDeployment", ["spec", "autoscaling", "maxReplicas"])
    assert found.required and type_name(DOC, found.schema) == "integer"
    optional = resolve(DOC, "ModelDeployment", ["spec", "autoscaling", "minReplicas"])
    assert not optional.required


def test_arrays_are_stepped_through_and_typed() -> None:
    engines = resolve(DOC, "ModelDeployment", ["spec", "template", "spec", "engines"])
    assert type_name(DOC, engines.schema) == "[]Engine"
    role = resolve(DOC, "ModelDeployment", ["spec", "template", "spec", "engines", "members", "role"])
    assert "one of: Standalone, Leader, Worker" in constraints(role.schema)
    labels = resolve(DOC, "ModelDeployment", ["metadata", "labels"])
    assert type_name(DOC, labels.schema) == "map[string]string"


def test_explain_text_lists_fields_with_types_and_constraints() -> None:
    text = explain_text(DOC, kind="ModelDeployment", api_version="laneway.dev/v1alpha1", path=["spec", "autoscaling"])
    assert "FIELD: spec.autoscaling <Autoscaling>" in text
    assert "maxReplicas\t<integer> -required-  (range [0, 100000])" in text
    assert "targetInFlight\t<number>  (range (0, ]; default 8)" in text


def test_recursive_prints_the_tree_below() -> None:
    text = explain_text(DOC, kind="ModelService", api_version="v", path=["spec"], recursive=True)
    assert "\n  endpoints\t<[]ServiceEntry> -required-" in text
    assert "\n      matchLabels\t<map[string]string>" in text, "selector's fields, nested under endpoints"


def test_an_unknown_field_names_the_fields_that_exist() -> None:
    with pytest.raises(UnknownField) as error:
        resolve(DOC, "ModelDeployment", ["spec", "replica"])
    assert "field 'replica' does not exist in ModelDeployment.spec" in str(error.value)
    assert "replicas" in str(error.value) and "autoscaling" in str(error.value)


def test_the_command_offline(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"LANEWAY_DATA_DIR": str(tmp_path), "LANEWAY_SERVER": None}
    result = runner.invoke(main, ["explain", "md.spec.replicas"], env=env)
    assert result.exit_code == 0, result.output
    assert "KIND:       ModelDeployment" in result.output and "default 1" in result.output
    whole = runner.invoke(main, ["explain", "ms"], env=env)
    assert "One URL over endpoints" in whole.output and "spec\t<ModelServiceSpec> -required-" in whole.output
    bad = runner.invoke(main, ["explain", "md.spec.bogus"], env=env)
    assert bad.exit_code == 2 and bad.output.startswith("error: field 'bogus' does not exist")
    unknown = runner.invoke(main, ["explain", "gizmo"], env=env)
    assert unknown.exit_code == 2 and "unknown resource kind" in unknown.output


def test_field_docstrings_are_read_from_the_models_source() -> None:
    from laneway.cli.field_docs import attribute_docstrings, field_docs

    source = 'class A:\n    x: int = 1\n    """What x is,\n    over two lines."""\n    y: int = 2\n    # a comment\n'
    assert attribute_docstrings(source) == {"A": {"x": "What x is,\nover two lines."}}
    docs = field_docs()
    assert docs["ModelReplicaStatus"]["drainingSince"].startswith("When the replica left the routing table")
    text = explain_text(DOC, kind="ModelReplica", api_version="v", path=["status"], docs=docs)
    assert "  drainingSince\t<number>\n    When the replica left the routing table" in text
    one = explain_text(DOC, kind="ModelReplica", api_version="v", path=["status", "appliedGeneration"], docs=docs)
    assert "DESCRIPTION:\n    The generation the driver last applied" in one
