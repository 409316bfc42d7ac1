"""Quantity parsing and comparison, with Kubernetes resource.Quantity's edge cases."""

from fractions import Fraction

import pytest

from laneway.placement.dra.quantity import QuantityError, format_quantity, is_quantity, parse_quantity


@pytest.mark.parametrize(
    "text,value",
    [
        ("0", 0),
        ("1", 1),
        ("500m", Fraction(1, 2)),
        ("1.5Gi", 3 * 2**29),
        ("80Gi", 80 * 2**30),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1E", 10**18),
        ("1k", 1000),
        ("1Ki", 1024),
        ("+5", 5),
        ("-5", -5),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("1n", Fraction(1, 10**9)),
        ("0.1n", Fraction(1, 10**9)),  # finer than nano rounds up
        ("-0.1n", Fraction(-1, 10**9)),  # away from zero
        ("1.5e-3", Fraction(3, 2000)),
        ("12e-1", Fraction(6, 5)),
    ],
)
def test_parses_like_kubernetes(text, value):
    assert parse_quantity(text).value == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "Gi", "1Gb", "1e", "1.2.3", "--1", "1i", "1KI", "abc", "1 Gi"])
def test_rejects_what_kubernetes_rejects(text):
    assert not is_quantity(text)
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert "quantity" in str(e.value)


def test_equality_and_order_are_by_value():
    assert parse_quantity("1") == parse_quantity("1000m")
    assert parse_quantity("1.5Gi") == parse_quantity("1536Mi")
    assert parse_quantity("1G") != parse_quantity("1Gi")
    assert parse_quantity("1Gi").compare(parse_quantity("1G")) == 1
    assert parse_quantity("141Gi").compare(parse_quantity("80Gi")) == 1


def test_int64_conversion():
    assert parse_quantity("1Gi").as_int64() == 2**30
    assert parse_quantity("500m").as_int64() is None
    assert parse_quantity("10E").as_int64() is None  # overflows int64


@pytest.mark.parametrize("text,canonical", [("1536Mi", "1536Mi"), ("1024Mi", "1Gi"), ("1000m", "1"), ("1500m", "1500m"), ("1e3", "1k"), ("0", "0")])
def test_canonical_text(text, canonical):
    assert format_quantity(parse_quantity(text)) == canonical
