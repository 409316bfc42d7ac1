"""JSON merge patch follows RFC 7386, including every example of its appendix A."""

from __future__ import annotations

import pytest

from laneway.server.patch import merge_patch

RFC_7386_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7386_APPENDIX_A)
def test_rfc_7386_examples(target: object, patch: object, expected: object) -> None:
    assert merge_patch(target, patch) == expected


def test_inputs_are_not_modified() -> None:
    target = {"spec": {"replicas": 1, "labels": {"a": "b"}}}
    patch = {"spec": {"labels": {"a": None}}}
    merge_patch(target, patch)
    assert target == {"spec": {"replicas": 1, "labels": {"a": "b"}}}
    assert patch == {"spec": {"labels": {"a": None}}}
