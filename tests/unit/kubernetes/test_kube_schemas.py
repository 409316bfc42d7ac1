"""The CRD schemas bundled with laneway are the upstream ones (when ../shared/crds is there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from laneway.drivers.kubernetes.validation import SCHEMA_FILES, bundled_crd, crd_schema, strict_schema


def _shared_crds() -> Path:
    """`shared/crds` next to the checkout, or next to the folder of worktrees that holds it."""
    root = Path(__file__).resolve().parents[3]
    for base in (root.parent, root.parent.parent):
        if (base / "shared" / "crds").is_dir():
            return base / "shared" / "crds"
    return root.parent / "shared" / "crds"


SHARED = _shared_crds()


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/crds is not next to this checkout")
def test_bundled_crds_match_upstream() -> None:
    upstream = {}
    for path in SHARED.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                upstream[doc["metadata"]["name"]] = doc
    compared = 0
    for file_name in set(SCHEMA_FILES.values()):
        bundled = bundled_crd(file_name)
        original = upstream.get(bundled["metadata"]["name"])
        if original is None:  # Grove's PodCliqueSet is not in shared/crds; schemas/README.md names its source
            continue
        assert bundled["spec"] == original["spec"], file_name
        compared += 1
    assert compared >= 6


def test_strict_schema_refuses_unknown_fields_but_keeps_preserved_ones() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}},
                                                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    strict = strict_schema(schema)
    assert strict["additionalProperties"] is False and strict["properties"]["a"]["additionalProperties"] is False
    assert "additionalProperties" not in strict["properties"]["free"]


def test_every_rendered_crd_kind_has_a_served_schema() -> None:
    for (group, kind), file_name in SCHEMA_FILES.items():
        crd = bundled_crd(file_name)
        assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind
        assert any(crd_schema(crd, v["name"]) is not None for v in crd["spec"]["versions"])
