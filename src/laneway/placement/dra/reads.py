"""Which device values a selector reads, so devices that agree on them share one evaluation.

A selector that touches `device` only through fixed paths (`device.driver`,
`device.attributes["gpu.nvidia.com"].productName`, `device.capacity["gpu.nvidia.com"].memory`,
or the dotted `device.attributes.domain.name`) depends on nothing but the values at those paths:
two devices that agree on them give the same result, error text included. A fleet publishes
many classes that differ in ways one selector does not look at (18 classes but 6 products),
so keying results by the values read instead of the whole device description skips most CEL
evaluations on a cold start, which is where a re-plan spends its time.

Anything else that mentions `device` (the whole map, a computed key, a macro variable named
`device`) makes the selector unprojectable: `reads()` returns None and the caller keys by the
whole device, which is always correct.
"""

from __future__ import annotations

from typing import Any

import lark
from celpy import celtypes

from laneway.placement.dra.quantity import Quantity
from laneway.placement.dra.semver import Semver

Path = tuple[str, ...]
"""`("driver",)` or `(kind, domain, name)` with kind `attributes` or `capacity`."""

_WRAPPERS = frozenset({"member", "primary"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_MISSING_DOMAIN = ("missing-domain",)
_MISSING_NAME = ("missing-name",)


def reads(tree: lark.Tree[lark.Token]) -> tuple[Path, ...] | None:
    """The fixed paths a compiled selector reads `device` through, or None when it reads the
    device any other way (then only the whole device description decides its result)."""
    found: set[Path] = set()

    def walk(node: Any) -> bool:
        if not isinstance(node, lark.Tree):
            return True
        path = _path(node)
        if path is not None:
            found.add(path)
            return True
        if node.data == "ident" and _name(node) == "device":
            return False
        if node.data == "member_dot_arg" and _binds_device(node):
            return False
        return all(walk(child) for child in node.children)

    return tuple(sorted(found)) if walk(tree) else None


def projection(paths: tuple[Path, ...], device: celtypes.MapType) -> tuple[object, ...]:
    """The values at `paths` in a `device` value (as `environment.device_value` builds it), each
    tagged with its type, with distinct markers for a missing domain and a missing name."""
    out: list[object] = []
    for path in paths:
        if path == ("driver",):
            out.append(_value_key(_at(device, "driver")))
            continue
        kind, domain, name = path
        values = _at(_at(device, kind), domain)
        if values is None:
            out.append(_MISSING_DOMAIN)
            continue
        value = _at(values, name)
        out.append(_MISSING_NAME if value is None else _value_key(value))
    return tuple(out)


def _at(mapping: object, key: str) -> object:
    """`mapping[key]` for a celpy map (a dict keyed by celpy strings, which equal `str`), skipping
    MapType's per-call key check; None when the key is absent or `mapping` is not a map."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _value_key(value: Any) -> tuple[object, ...]:
    """An exact, hashable identity of a value: type included (an int 1 is not a bool true), a
    quantity by value and format, a version by its full text (build metadata included, since it
    shows in text even though it never compares)."""
    if isinstance(value, Quantity):
        return ("Quantity", value.value, value.format)
    if isinstance(value, Semver):
        return ("Semver", str(value))
    return (type(value).__name__, value)


def _path(node: lark.Tree[lark.Token]) -> Path | None:
    if node.data != "member_dot" or len(node.children) != 2:
        return None
    inner, last = node.children
    inner = _unwrap(inner)
    name = str(last)
    if _is_device(inner):
        return ("driver",) if name == "driver" else None
    if not isinstance(inner, lark.Tree) or len(inner.children) != 2:
        return None
    table, domain_node = inner.children
    table = _unwrap(table)
    if not (isinstance(table, lark.Tree) and table.data == "member_dot" and len(table.children) == 2):
        return None
    kind = str(table.children[1])
    if kind not in ("attributes", "capacity") or not _is_device(_unwrap(table.children[0])):
        return None
    if inner.data == "member_dot":
        domain: str | None = str(domain_node)
    elif inner.data == "member_index":
        domain = _string_literal(domain_node)
    else:
        domain = None
    return (kind, domain, name) if domain is not None else None


def _unwrap(node: Any) -> Any:
    while isinstance(node, lark.Tree) and node.data in _WRAPPERS and len(node.children) == 1:
        node = node.children[0]
    return node


def _is_device(node: Any) -> bool:
    return isinstance(node, lark.Tree) and node.data == "ident" and _name(node) == "device"


def _name(node: lark.Tree[lark.Token]) -> str:
    return str(node.children[0]) if node.children else ""


def _binds_device(node: lark.Tree[lark.Token]) -> bool:
    """`xs.all(device, ...)` and the other macros bind a variable; one named `device` shadows ours."""
    if len(node.children) < 3 or str(node.children[1]) not in _MACROS:
        return False
    args = node.children[2]
    if not isinstance(args, lark.Tree) or not args.children:
        return False
    first = args.children[0]
    return isinstance(first, lark.Tree) and any(_is_device(t) for t in first.iter_subtrees())


def _string_literal(node: Any) -> str | None:
    """The text of a plain string literal (`"gpu.nvidia.com"`); None for anything computed,
    escaped, raw or triple-quoted, which then does not count as a fixed path."""
    while isinstance(node, lark.Tree) and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, lark.Token):
        return None
    text = str(node)
    if len(text) < 2 or text[0] not in "\"'" or text[-1] != text[0] or "\\" in text or text.startswith(("'''", '"""')):
        return None
    return text[1:-1]
