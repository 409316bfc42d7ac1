"""The Kubernetes CEL library functions a DRA selector may call: `quantity()` and `semver()`.

Each is a plain Python function over the values of `quantity.py` and `semver.py`, registered
by name with the CEL runtime (celpy calls `q.isGreaterThan(x)` as `isGreaterThan(q, x)`).
A misuse (wrong type, unparsable text) raises ValueError, which the runtime turns into an
evaluation error: the selector does not match, and `||` can still absorb it as CEL specifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celpy import celtypes

from laneway.placement.dra.quantity import Quantity, is_quantity, parse_quantity
from laneway.placement.dra.semver import Semver, is_semver, parse_semver


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}() takes a string, got {type(value).__name__}")
    return str(value)


def _quantity(value: Any, method: str) -> Quantity:
    if not isinstance(value, Quantity):
        raise ValueError(f"{method}() is a method of quantity values, called on {type(value).__name__}")
    return value


def _quantity_arg(value: Any, method: str) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Quantity(parse_quantity(str(int(value))).value)
    raise ValueError(f"{method}() takes a quantity or an int, got {type(value).__name__}")


def _comparable(a: Any, b: Any, method: str) -> int:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return a.compare(b)
    if isinstance(a, Semver) and isinstance(b, Semver):
        return a.compare(b)
    raise ValueError(f"{method}() compares two quantities or two semvers, got {type(a).__name__} and {type(b).__name__}")


def cel_quantity(text: Any) -> Quantity:
    return parse_quantity(_text(text, "quantity"))


def cel_is_quantity(text: Any) -> celtypes.BoolType:
    return celtypes.BoolType(is_quantity(_text(text, "isQuantity")))


def cel_semver(text: Any, normalize: Any = False) -> Semver:
    return parse_semver(_text(text, "semver"), normalize=bool(normalize))


def cel_is_semver(text: Any, normalize: Any = False) -> celtypes.BoolType:
    return celtypes.BoolType(is_semver(_text(text, "isSemver"), normalize=bool(normalize)))


def cel_sign(q: Any) -> celtypes.IntType:
    return celtypes.IntType(_quantity(q, "sign").sign)


def cel_is_integer(q: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_quantity(q, "isInteger").as_int64() is not None)


def cel_as_integer(q: Any) -> celtypes.IntType:
    value = _quantity(q, "asInteger").as_int64()
    if value is None:
        raise ValueError(f"cannot convert quantity {q} to an integer: it has a fraction or exceeds int64")
    return celtypes.IntType(value)


def cel_as_approximate_float(q: Any) -> celtypes.DoubleType:
    return celtypes.DoubleType(float(_quantity(q, "asApproximateFloat").value))


def cel_add(q: Any, other: Any) -> Quantity:
    return _quantity(q, "add").plus(_quantity_arg(other, "add"))


def cel_sub(q: Any, other: Any) -> Quantity:
    return _quantity(q, "sub").minus(_quantity_arg(other, "sub"))


def cel_compare_to(a: Any, b: Any) -> celtypes.IntType:
    return celtypes.IntType(_comparable(a, b, "compareTo"))


def cel_is_greater_than(a: Any, b: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_comparable(a, b, "isGreaterThan") > 0)


def cel_is_less_than(a: Any, b: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_comparable(a, b, "isLessThan") < 0)


def _semver(value: Any, method: str) -> Semver:
    if not isinstance(value, Semver):
        raise ValueError(f"{method}() is a method of semver values, called on {type(value).__name__}")
    return value


def cel_major(v: Any) -> celtypes.IntType:
    return celtypes.IntType(_semver(v, "major").major)


def cel_minor(v: Any) -> celtypes.IntType:
    return celtypes.IntType(_semver(v, "minor").minor)


def cel_patch(v: Any) -> celtypes.IntType:
    return celtypes.IntType(_semver(v, "patch").patch)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "quantity": cel_quantity,
    "isQuantity": cel_is_quantity,
    "semver": cel_semver,
    "isSemver": cel_is_semver,
    "sign": cel_sign,
    "isInteger": cel_is_integer,
    "asInteger": cel_as_integer,
    "asApproximateFloat": cel_as_approximate_float,
    "add": cel_add,
    "sub": cel_sub,
    "compareTo": cel_compare_to,
    "isGreaterThan": cel_is_greater_than,
    "isLessThan": cel_is_less_than,
    "major": cel_major,
    "minor": cel_minor,
    "patch": cel_patch,
}
"""Every function a selector may call beyond CEL's standard library, by the name CEL uses."""
