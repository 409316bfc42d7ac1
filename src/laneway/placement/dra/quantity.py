"""Kubernetes resource quantities (`80Gi`, `500m`, `1e3`), parsed and compared exactly.

Parity with `k8s.io/apimachinery/pkg/api/resource.Quantity` matters because the ML team writes
the same selectors they would put in a ResourceClaim: `quantity("1.5Gi")` must equal
`quantity("1536Mi")`, `quantity("1")` must equal `quantity("1000m")`, and a value finer than one
nano-unit is rounded up (away from zero) to it, as Kubernetes does. Values are kept as exact
fractions, never floats, so comparisons do not drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_NANO = Fraction(1, 10**9)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_EXPONENT = 1000

Format = Literal["BinarySI", "DecimalSI", "DecimalExponent"]


class QuantityError(ValueError):
    """Text that is not a Kubernetes quantity. A ValueError so CEL reports it as an evaluation error."""


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Kubernetes keeps at most nano precision and rounds finer values away from zero."""
    scaled = value / _NANO
    if scaled.denominator == 1:
        return value
    whole = -((-abs(scaled.numerator)) // scaled.denominator)  # ceil of |scaled|
    return Fraction(whole if value > 0 else -whole) * _NANO


@dataclass(frozen=True)
class Quantity:
    """An exact quantity. Equality and ordering are by value: `1Gi == 1024Mi`, `1 == 1000m`."""

    value: Fraction
    format: Format = "DecimalSI"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __hash__(self) -> int:
        return hash(("quantity", self.value))

    def compare(self, other: Quantity) -> int:
        return (self.value > other.value) - (self.value < other.value)

    @property
    def sign(self) -> int:
        return (self.value > 0) - (self.value < 0)

    def as_int64(self) -> int | None:
        """The value as a whole int64, or None when it has a fraction or overflows (Kubernetes' AsInt64)."""
        if self.value.denominator != 1 or not (_INT64_MIN <= self.value.numerator <= _INT64_MAX):
            return None
        return self.value.numerator

    def plus(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format)

    def minus(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __str__(self) -> str:
        return format_quantity(self)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity the way `resource.ParseQuantity` does, or raise QuantityError saying why."""
    if not isinstance(text, str):
        raise QuantityError(f"a quantity is written as a string such as '80Gi', got {type(text).__name__}")
    m = _QUANTITY.match(text)
    if m is None:
        raise QuantityError(
            f"{text!r} is not a quantity: write a number with an optional suffix, e.g. '8', '500m', '1.5Gi', '80G' or '1e3'"
        )
    number = Fraction(m.group("number").rstrip(".") or "0")
    suffix = m.group("suffix") or ""
    fmt: Format
    if suffix in _BINARY:
        factor: Fraction = Fraction(_BINARY[suffix])
        fmt = "BinarySI"
    elif suffix in _DECIMAL:
        factor = _DECIMAL[suffix]
        fmt = "DecimalSI"
    else:
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{text!r}: the exponent {exponent} is out of range")
        factor = Fraction(10) ** exponent
        fmt = "DecimalExponent"
    value = number * factor
    if m.group("sign") == "-":
        value = -value
    return Quantity(_round_up_to_nano(value), fmt)


def is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True


def _decimal_text(value: Fraction) -> str:
    """Shortest canonical decimal-SI text: the largest suffix that keeps an integer mantissa."""
    for suffix in ("E", "P", "T", "G", "M", "k", "", "m", "u", "n"):
        mantissa = value / _DECIMAL[suffix]
        if mantissa.denominator == 1:
            return f"{mantissa.numerator}{suffix}"
    return f"{float(value)}"  # unreachable: values are rounded to nano precision


def format_quantity(q: Quantity) -> str:
    """Canonical text as Kubernetes prints it: binary suffixes for binary quantities when exact."""
    if q.value == 0:
        return "0"
    if q.format == "BinarySI" and q.value.denominator == 1:
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            mantissa = q.value / _BINARY[suffix]
            if mantissa.denominator == 1:
                return f"{mantissa.numerator}{suffix}"
        return str(q.value.numerator)
    return _decimal_text(q.value)
