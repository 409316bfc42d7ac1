"""Every example manifest the repository ships loads as it is."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from laneway.api.manifest import load_paths

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("folder", ["platform", "models", "modelplane", "simulated", "local"])
def test_every_example_file_parses(folder: str) -> None:
    files = sorted(p for p in (EXAMPLES / folder).rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    assert files, f"no examples in {folder}"
    for path in files:
        assert load_paths([str(path)]), f"{path} holds no resources"


def test_platform_examples_cover_the_platform_kinds() -> None:
    kinds = Counter(r.kind for r in load_paths([str(EXAMPLES / "platform")]))
    assert kinds["InferenceGateway"] == 1 and kinds["InferenceClass"] >= 3 and kinds["InferenceCluster"] >= 2
    clusters = [r for r in load_paths([str(EXAMPLES / "platform")]) if r.kind == "InferenceCluster"]
    for c in clusters:
        assert c.spec.cluster.source == "Local"  # type: ignore[attr-defined]
        assert {"laneway.dev/region", "laneway.dev/cloud", "laneway.dev/tier", "laneway.dev/jurisdiction"} <= set(c.metadata.labels)


def test_model_examples_cover_the_team_kinds() -> None:
    resources = load_paths([str(EXAMPLES / "models")])
    kinds = {r.kind for r in resources}
    assert {"ModelDeployment", "ModelService", "ModelEndpoint", "Secret", "ModelCache"} <= kinds
    (md,) = [r for r in resources if r.kind == "ModelDeployment"]
    container = md.spec.template.spec.engines[0].members[0].container  # type: ignore[attr-defined]
    assert container.command == ["laneway", "engine", "sim"]


def test_modelplane_examples_translate_their_labels() -> None:
    resources = load_paths([str(EXAMPLES / "modelplane")])
    assert all(r.api_version in ("laneway.dev/v1alpha1", "v1") for r in resources)
    labels = {k for r in resources for k in r.metadata.labels}
    assert not any(k.startswith("modelplane.ai/") for k in labels)
    assert "laneway.dev/region" in labels
