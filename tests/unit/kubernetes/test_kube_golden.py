"""Golden files: the manifests `laneway render -f` prints for each example, byte for byte, and
every rendered object valid against the schemas (strict) of every supported Kubernetes version.

Regenerate after an intended change with:
    LANEWAY_UPDATE_GOLDEN=1 python -m pytest tests/unit/kubernetes/test_kube_golden.py
and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from laneway.api.manifest import load_paths
from laneway.cli.render import render_offline, stream
from laneway.drivers.kubernetes.validation import supported_versions, validate_objects

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "kubernetes"
GOLDEN = ROOT / "tests" / "golden" / "kubernetes"
CASES = ["standalone", "leader-worker", "multi-engine", "prefill-decode", "dynamo"]


@pytest.mark.parametrize("case", CASES)
def test_rendered_manifests_match_golden(case: str) -> None:
    rendered = render_offline(load_paths([str(EXAMPLES / "platform.yaml"), str(EXAMPLES / f"{case}.yaml")]))
    assert rendered, f"{case}: nothing was placed"
    text = stream(rendered)
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("LANEWAY_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing: run with LANEWAY_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(), f"{case}: rendering changed; if intended, regenerate with LANEWAY_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("case", CASES)
def test_golden_objects_are_valid_in_strict_mode(case: str) -> None:
    objects = [o for o in yaml.safe_load_all((GOLDEN / f"{case}.yaml").read_text()) if o]
    assert objects
    assert "1.34" in supported_versions() and len(supported_versions()) >= 1
    validate_objects(objects)
