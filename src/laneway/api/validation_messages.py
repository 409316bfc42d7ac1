"""Pydantic's error records rewritten as messages a person acts on.

Pydantic says "Input should be a valid integer, unable to parse string as an integer"; a
manifest author needs "expected an integer, got 'two'". Each message says what was found and
what would be valid; an unknown field lists the fields that are allowed where it stands, since
the usual cause is a typo or a field at the wrong depth.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from laneway.api.errors import RuleViolation


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unquote_hint(value: Any) -> str:
    """Numbers and booleans are typed, never read out of strings: say so when one was quoted."""
    return " (write it without quotes)" if isinstance(value, str) and _looks_scalar(value) else ""


def _looks_scalar(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip().lower() in ("true", "false")
    return True


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out += _unwrap(arg)
        return out
    return [annotation]


def _step(annotation: Any, part: Any) -> Any | None:
    for candidate in _unwrap(annotation):
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if isinstance(part, int) and origin in (list, tuple) and args:
            return args[0]
        if isinstance(part, str):
            if origin is dict and len(args) == 2:
                return args[1]
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                for name, field in candidate.model_fields.items():
                    if part in (name, field.alias):
                        return field.annotation
    return None


def model_at(model: type | None, loc: list[Any]) -> type[BaseModel] | None:
    """The model class that holds the field at `loc`'s last part, walking the annotations."""
    current: Any = model
    for part in loc[:-1]:
        if current is None:
            return None
        current = _step(current, part)
    for candidate in _unwrap(current) if current is not None else []:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def allowed_fields(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _literal_choices(expected: str) -> str:
    return expected.replace("' or '", "', '")


def problem_message(error: Mapping[str, Any], *, model: type | None = None, loc: list[Any] | None = None) -> str:
    """One pydantic error record as a sentence: what was found and what would be valid."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    msg = str(error.get("msg", ""))
    loc = loc if loc is not None else list(error.get("loc", ()))

    if kind == "value_error":
        exc = ctx.get("error")
        return str(exc) if isinstance(exc, (ValueError, RuleViolation)) else msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return msg.removeprefix("Assertion failed, ")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        if loc and loc[-1] == "clusterName":
            # Rule 1 of the design: only the scheduler names a cluster (on a ModelReplica).
            return (
                "unknown field: a model never names its cluster; laneway's scheduler picks one. "
                "Constrain where it may run with spec.template.spec.clusterSelector (labels such as "
                "laneway.dev/region) instead"
            )
        holder = model_at(model, loc)
        if holder is not None:
            return f"unknown field; the fields allowed here are: {', '.join(allowed_fields(holder))}"
        return "unknown field; check its spelling and depth against docs/reference/resources.md"
    if kind in ("int_parsing", "int_type"):
        if isinstance(value, float):
            return f"expected a whole number, got {_shown(value)}"
        return f"expected an integer, got {_shown(value)}{_unquote_hint(value)}"
    if kind == "int_from_float":
        return f"expected a whole number, got {_shown(value)}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {_shown(value)}{_unquote_hint(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {_shown(value)}{_unquote_hint(value)}"
    if kind == "string_type":
        hint = " (quote it, e.g. \"1.0\")" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        return f"expected a string, got {_shown(value)}{hint}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list (YAML '- item' lines), got {_shown(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping (key: value lines), got {_shown(value)}"
    if kind == "literal_error":
        return f"must be one of {_literal_choices(str(ctx.get('expected', '')))}; got {_shown(value)}"
    if kind == "enum":
        return f"must be one of {_literal_choices(str(ctx.get('expected', '')))}; got {_shown(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {_shown(value)}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}, got {_shown(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {_shown(value)}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}, got {_shown(value)}"
    if kind == "too_short":
        what = "entry" if isinstance(value, dict) else "item"
        return f"needs at least {_plural(ctx.get('min_length'), what)}, got {ctx.get('actual_length', 0)}"
    if kind == "too_long":
        what = "entry" if isinstance(value, dict) else "item"
        return f"allows at most {_plural(ctx.get('max_length'), what)}, got {ctx.get('actual_length')}"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "must not be empty"
        return f"must be at least {_plural(ctx.get('min_length'), 'character')} long"
    if kind == "string_too_long":
        return f"must be at most {_plural(ctx.get('max_length'), 'character')} long, got {len(str(value))}"
    if kind == "string_pattern_mismatch":
        return f"{_shown(value)} does not match the expected pattern {ctx.get('pattern')}"
    if kind in ("none_required",):
        return "must be left out"
    return msg
