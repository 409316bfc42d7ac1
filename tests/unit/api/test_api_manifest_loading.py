"""Loading manifests: files, directories, stdin, multi-document, List; errors located and readable."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from laneway.api.errors import InvalidManifests
from laneway.api.manifest import load_paths, load_text

CLASS = """\
apiVersion: laneway.dev/v1alpha1
kind: InferenceClass
metadata:
  name: {name}
spec:
  devices:
  - name: gpu
    driver: gpu.nvidia.com
    deviceClassName: gpu.nvidia.com
    count: {count}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _errors(paths: list[str]) -> InvalidManifests:
    with pytest.raises(InvalidManifests) as info:
        load_paths(paths)
    return info.value


def test_multi_document_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.yaml", CLASS.format(name="a", count=1) + "---\n---\n" + CLASS.format(name="b", count=2))
    assert [r.name for r in load_paths([path])] == ["a", "b"]


def test_directory_recursive_sorted_and_only_manifests(tmp_path: Path) -> None:
    _write(tmp_path, "z/2.yml", CLASS.format(name="z", count=1))
    _write(tmp_path, "1.yaml", CLASS.format(name="one", count=1))
    _write(tmp_path, "notes.txt", "not yaml: [")
    _write(tmp_path, "3.json", '{"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceGateway", "metadata": {"name": "g"}}')
    assert [r.name for r in load_paths([str(tmp_path)])] == ["one", "g", "z"]


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(CLASS.format(name="from-stdin", count=1)))
    assert [r.name for r in load_paths(["-"])] == ["from-stdin"]


def test_list_kind_yields_items() -> None:
    text = textwrap.dedent(
        """
        apiVersion: v1
        kind: List
        items:
        - {apiVersion: laneway.dev/v1alpha1, kind: InferenceGateway, metadata: {name: a}}
        - {apiVersion: laneway.dev/v1alpha1, kind: InferenceGateway, metadata: {name: b}}
        """
    )
    assert [r.name for r in load_text(text)] == ["a", "b"]


def test_error_names_file_document_path_line_and_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.yaml", CLASS.format(name="ok", count=1) + "---\n" + CLASS.format(name="bad", count="two"))
    (err,) = _errors([path]).errors
    assert err.source == path and err.document == 1 and err.kind == "InferenceClass" and err.name == "bad"
    (problem,) = err.problems
    assert problem.path == "spec.devices[0].count"
    assert problem.message == "expected an integer, got 'two'"
    assert problem.line == 21
    text = str(err)
    assert f"{path}, document 2, InferenceClass/bad: invalid" in text
    assert "spec.devices[0].count: expected an integer, got 'two' (line 21)" in text


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", CLASS.format(name="a", count=0))
    b = _write(tmp_path, "b.yaml", CLASS.format(name="b", count=-1))
    errors = _errors([a, b, str(tmp_path / "missing.yaml")]).errors
    assert [e.source for e in errors] == [a, b, str(tmp_path / "missing.yaml")]
    assert errors[2].problems[0].message == "no such file or directory"


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.yaml", "apiVersion: laneway.dev/v1alpha1\nkind: InferenceGateway\nmetadata:\n  name: [g\n")
    (err,) = _errors([path]).errors
    assert err.source == path
    assert "not valid YAML at line" in err.problems[0].message


def test_tab_indentation_hint() -> None:
    with pytest.raises(InvalidManifests) as info:
        load_text("kind: InferenceGateway\nmetadata:\n\tname: g\n", source="gw.yaml")
    (problem,) = info.value.errors[0].problems
    assert "line 3, column 1" in problem.message and "indent with spaces, not tabs" in problem.message
    assert str(problem).count("line 3") == 1  # the location is said once


def test_readable_type_messages() -> None:
    text = textwrap.dedent(
        """
        apiVersion: laneway.dev/v1alpha1
        kind: ModelService
        metadata: {name: s, namespace: n}
        spec:
          breakGlass: maybe
          modelNames: coder
          endpoints:
          - selector: [a]
            weight: 1.5
          owner: {team: t, pager: x}
        """
    )
    with pytest.raises(InvalidManifests) as info:
        load_text(text)
    found = {p.path: p.message for p in info.value.errors[0].problems}
    assert found["spec.breakGlass"] == "expected true or false, got 'maybe'"
    assert found["spec.modelNames"] == "expected a list (YAML '- item' lines), got 'coder'"
    assert found["spec.endpoints[0].selector"] == "expected a mapping (key: value lines), got a list"
    assert found["spec.endpoints[0].weight"] == "expected a whole number, got 1.5"
    assert found["spec.owner.pager"] == "unknown field; the fields allowed here are: team, contact"


def test_kind_and_api_version_errors() -> None:
    def one(text: str) -> str:
        with pytest.raises(InvalidManifests) as info:
            load_text(text)
        return str(info.value)

    assert "unknown resource kind 'Modle'" in one("apiVersion: laneway.dev/v1alpha1\nkind: Modle\nmetadata: {name: x}\n")
    assert "use 'laneway.dev/v1alpha1'" in one("apiVersion: apps/v1\nkind: ModelService\nmetadata: {name: x}\n")
    assert "kind: required field is missing" in one("apiVersion: laneway.dev/v1alpha1\nmetadata: {name: x}\n")
    assert "expected a mapping" in one("- just\n- a list\n")
    assert "metadata: required field is missing" in one("apiVersion: laneway.dev/v1alpha1\nkind: InferenceGateway\n")


def test_modelplane_translation() -> None:
    text = textwrap.dedent(
        """
        apiVersion: modelplane.ai/v1alpha1
        kind: ModelService
        metadata:
          name: s
          namespace: n
          labels: {modelplane.ai/team: a, example.org/region: eu}
        spec:
          endpoints:
          - selector:
              matchLabels: {modelplane.ai/deployment: qwen}
              matchExpressions: [{key: modelplane.ai/tier, operator: Exists}]
        """
    )
    (ms,) = load_text(text)
    assert ms.api_version == "laneway.dev/v1alpha1"
    assert ms.metadata.labels == {"laneway.dev/team": "a", "example.org/region": "eu"}
    sel = ms.spec.endpoints[0].selector  # type: ignore[attr-defined]
    assert sel.match_labels == {"laneway.dev/deployment": "qwen"}
    assert sel.match_expressions[0].key == "laneway.dev/tier"


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    (err,) = _errors([str(tmp_path)]).errors
    assert "no manifests" in err.problems[0].message


def test_absurdly_deep_documents_are_refused_not_crashed_on() -> None:
    for text in ("[" * 5000 + "]" * 5000, '{"a":' * 150 + "1" + "}" * 150):
        with pytest.raises(InvalidManifests) as info:
            load_text(text, source="deep.yaml")
        (problem,) = info.value.errors[0].problems
        assert "nested more than" in problem.message
