"""Semantic versions: strict and normalizing parse, precedence with pre-releases, build ignored."""

import pytest

from laneway.placement.dra.semver import SemverError, is_semver, parse_semver


@pytest.mark.parametrize(
    "low,high",
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.9.0", "1.10.0"),
        ("550.54.15", "560.0.0"),
    ],
)
def test_precedence(low, high):
    assert parse_semver(low).compare(parse_semver(high)) == -1
    assert parse_semver(high).compare(parse_semver(low)) == 1


def test_build_metadata_is_ignored():
    assert parse_semver("1.0.0+a") == parse_semver("1.0.0+b")


@pytest.mark.parametrize("text", ["1.2", "v1.2.3", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "", "1.2.3.4"])
def test_strict_rejects(text):
    assert not is_semver(text)
    with pytest.raises(SemverError):
        parse_semver(text)


@pytest.mark.parametrize("text,expected", [("v1.2", "1.2.0"), ("1", "1.0.0"), ("01.02.03", "1.2.3"), ("v1.2-rc.1", "1.2.0-rc.1")])
def test_normalize(text, expected):
    assert str(parse_semver(text, normalize=True)) == expected
