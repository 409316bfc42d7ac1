"""The patterns the OpenAPI document publishes are the ones the checks apply.

Each property draws strings from a published pattern and shows the check accepts them, and
names strings the check refuses that the pattern refuses too: the document and the server
agree in both directions, including at the edges (a trailing newline, a 254-character prefix).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneway.api.meta import (
    DNS1123_LABEL_PATTERN,
    LABEL_KEY_PATTERN,
    LABEL_VALUE_PATTERN,
    check_dns1123_label,
    check_label_key,
    check_label_value,
)
from laneway.api.selectors import LABEL_SELECTOR_PATTERN, SelectorSyntaxError, parse_selector

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def _matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


@SETTINGS
@given(st.from_regex(DNS1123_LABEL_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 63))
def test_dns_labels_from_the_pattern_pass_the_check(name: str) -> None:
    assert check_dns1123_label(name) == name


@SETTINGS
@given(st.from_regex(LABEL_KEY_PATTERN, fullmatch=True), st.from_regex(LABEL_VALUE_PATTERN, fullmatch=True))
def test_label_keys_and_values_from_the_patterns_pass_the_checks(key: str, value: str) -> None:
    assert check_label_key(key) == key
    assert check_label_value(key, value) == value


@SETTINGS
@given(st.from_regex(LABEL_SELECTOR_PATTERN, fullmatch=True))
def test_selectors_from_the_pattern_parse(text: str) -> None:
    requirements = parse_selector(text)
    assert all(r.key for r in requirements)


@pytest.mark.parametrize("name", ["llama\n", "-a", "a-", "A", "a_b", "", "a" * 64])
def test_names_the_check_refuses_the_pattern_refuses(name: str) -> None:
    with pytest.raises(ValueError):
        check_dns1123_label(name)
    assert not (_matches(DNS1123_LABEL_PATTERN, name) and len(name) <= 63)


@pytest.mark.parametrize("key", ["a\n", "x" * 254 + "/a", "Upper.dev/a", "a/b/c", "/a", "a/", "-a", "a" * 64])
def test_label_keys_the_check_refuses_the_pattern_refuses(key: str) -> None:
    with pytest.raises(ValueError):
        check_label_key(key)
    assert not _matches(LABEL_KEY_PATTERN, key)


@pytest.mark.parametrize(
    "text", ["x y=z", "a in ()", "a,,b", "a=b,", "a\n", "tier=gold plated", "a in (b,)", "=b", "!a=b", "a=-b"]
)
def test_selectors_the_parser_refuses_the_pattern_refuses(text: str) -> None:
    with pytest.raises(SelectorSyntaxError):
        parse_selector(text)
    assert not _matches(LABEL_SELECTOR_PATTERN, text)


def test_the_selector_forms_the_api_reference_shows_parse() -> None:
    text = "tier=gold,region in (eu-west,eu-north), tier notin (free),gpu,!deprecated,a!=b,laneway.dev/x==1,k="
    assert [r.operator for r in parse_selector(text)] == ["In", "In", "NotIn", "Exists", "DoesNotExist", "NotIn", "In", "In"]
    assert parse_selector("a in(b)")[0].values == ("b",)
