"""A lowercase `kind: modeldeployment` in a manifest is told the exact spelling, not handed a
list of known kinds that includes `modeldeployment`."""

from __future__ import annotations

import pytest

from laneway.api.errors import InvalidObject
from laneway.api.manifest import parse_object


def test_lowercase_kind_gets_the_exact_spelling() -> None:
    doc = {"apiVersion": "laneway.dev/v1alpha1", "kind": "modeldeployment", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(InvalidObject) as caught:
        parse_object(doc)
    message = caught.value.problems[0].message
    assert "case-sensitive" in message and "kind: ModelDeployment" in message
    assert "known kinds" not in message


def test_a_kind_that_does_not_exist_still_lists_the_known_ones() -> None:
    with pytest.raises(InvalidObject) as caught:
        parse_object({"apiVersion": "laneway.dev/v1alpha1", "kind": "Nonsense", "metadata": {"name": "x"}, "spec": {}})
    assert "known kinds" in caught.value.problems[0].message
