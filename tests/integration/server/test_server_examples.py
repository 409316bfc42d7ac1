"""Every example manifest, Modelplane's own included, posts unchanged through the API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from laneway.api.registry import by_kind
from laneway.server.targets import collection_path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = sorted(EXAMPLES.rglob("*.yaml")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not FILES, reason="no example manifests in this checkout")
def test_examples_post_unchanged(admin: httpx.Client) -> None:
    failures = []
    for path in FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            info = by_kind(doc["kind"])
            namespace = (doc.get("metadata") or {}).get("namespace", "default") if info.namespaced else ""
            # YAML dates (retireAfter: 2027-06-30) travel as the text a client would send.
            body = json.loads(json.dumps(doc, default=str))
            response = admin.post(collection_path(info, namespace), json=body)
            if response.status_code not in (201, 409):  # 409: the same object in two example files
                failures.append(f"{path.relative_to(EXAMPLES)} {doc['kind']}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)
