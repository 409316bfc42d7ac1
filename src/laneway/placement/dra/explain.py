"""Why a selector is false on a device, in the words an ML team acts on: `needs >= 141Gi`.

A false selector is explained by the first `&&` clause that is not true on the device (clauses
inside parentheses count too), and, when that clause compares a device value with a constant,
by what it needs: `>= 141Gi` for `memory.compareTo(quantity("141Gi")) >= 0`, `> 550.0.0` for
`driverVersion.isGreaterThan(semver("550.0.0"))`, `one of "H100", "H200"` for an `in` list.
Any other shape is shown as the clause's own text. This runs only when a deployment is short
and someone reads why, never in the scheduler's matching loop; it evaluates clauses with the
same bounded evaluator as matching, so a hostile selector cannot stall it either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lark
from celpy import celtypes

from laneway.placement.dra.environment import Program, evaluate_subtree

_WRAPPERS = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member", "primary", "paren_expr"})
_OPERATORS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
# compareTo yields -1, 0 or 1: which outcomes a comparison with a constant accepts, as an operator
_BY_OUTCOMES = {
    frozenset({1}): ">",
    frozenset({0, 1}): ">=",
    frozenset({-1}): "<",
    frozenset({-1, 0}): "<=",
    frozenset({0}): "==",
    frozenset({-1, 1}): "!=",
}
_METHODS = {"isGreaterThan": "> {}", "isLessThan": "< {}", "startsWith": "to start with {}", "endsWith": "to end with {}", "contains": "to contain {}", "matches": "to match {}"}
_CONSTRUCTORS = ("quantity", "semver")


@dataclass(frozen=True)
class FalseClause:
    """The part of a selector that is false on a device, and what it asks for when that is clear."""

    text: str
    needs: str | None = None


def false_clause(program: Program, device: celtypes.MapType) -> FalseClause:
    """The first `&&` clause of the selector that is not true on `device`, with what it needs.
    The whole selector when it is not a conjunction (or every clause alone is true)."""
    source = program.source
    root = program.runner.ast
    for clause in _conjuncts(root):
        if not _is_true(program, clause, device):
            return FalseClause(_text(clause, source), _needs(clause, source))
    return FalseClause(source.strip(), _needs(root, source))


def _conjuncts(tree: lark.Tree[lark.Token]) -> list[lark.Tree[lark.Token]]:
    """The clauses of a chain of `&&` (left-nested in the grammar), looking through parentheses."""
    node = _unwrap(tree, stop={"conditionaland"})
    if isinstance(node, lark.Tree) and node.data == "conditionaland" and len(node.children) == 2:
        left, right = node.children
        return [*_conjuncts(left), *_conjuncts(right)]
    return [tree]


def _unwrap(tree: Any, *, stop: frozenset[str] | set[str] = frozenset()) -> Any:
    """Descend through single-child grammar wrappers to the node that says what the clause does."""
    while isinstance(tree, lark.Tree) and tree.data in _WRAPPERS and tree.data not in stop and len(tree.children) == 1:
        tree = tree.children[0]
    if isinstance(tree, lark.Tree) and tree.data in stop and len(tree.children) == 1:
        return _unwrap(tree.children[0], stop=stop)
    return tree


def _is_true(program: Program, clause: lark.Tree[lark.Token], device: celtypes.MapType) -> bool:
    value = evaluate_subtree(program, clause, device)
    return isinstance(value, celtypes.BoolType) and bool(value)


def _text(tree: Any, source: str) -> str:
    meta = getattr(tree, "meta", None)
    if meta is None or getattr(meta, "empty", True):
        return source.strip()
    return source[meta.start_pos : meta.end_pos].strip()


def _needs(clause: lark.Tree[lark.Token], source: str) -> str | None:
    node = _unwrap(clause)
    if isinstance(node, lark.Tree) and node.data == "relation" and len(node.children) == 2:
        head, right = node.children
        if isinstance(head, lark.Tree) and head.data == "relation_in" and _reads_device(head.children[0]):
            items = _unwrap(right)
            if isinstance(items, lark.Tree) and items.data == "list_lit":
                return "one of " + _text(items, source)[1:-1].strip()
            return None
        op = _OPERATORS.get(head.data) if isinstance(head, lark.Tree) else None
        if op is None:
            return None
        left = head.children[0]
        compared = _compare_to(left, right, op, source)
        if compared is not None:
            return compared
        if _is_device_path(left) and not _reads_device(right):
            return f"{op} {_constant(right, source)}"
        if _is_device_path(right) and not _reads_device(left):
            return f"{_FLIPPED[op]} {_constant(left, source)}"
        return None
    call = _method_call(node)
    if call is not None:
        receiver, method, args = call
        if method in _METHODS and len(args) == 1 and _is_device_path(receiver) and not _reads_device(args[0]):
            return _METHODS[method].format(_constant(args[0], source))
    return None


def _compare_to(left: Any, right: Any, op: str, source: str) -> str | None:
    """`x.compareTo(c) >= 0` (and any constant -1, 0 or 1) as `>= c`."""
    call = _method_call(_unwrap(left))
    if call is None:
        return None
    receiver, method, args = call
    if method != "compareTo" or len(args) != 1 or not _is_device_path(receiver) or _reads_device(args[0]):
        return None
    try:
        k = int(_text(right, source))
    except ValueError:
        return None
    accepts = frozenset(c for c in (-1, 0, 1) if _holds(c, op, k))
    symbol = _BY_OUTCOMES.get(accepts)
    return f"{symbol} {_constant(args[0], source)}" if symbol else None


def _holds(c: int, op: str, k: int) -> bool:
    return {"<": c < k, "<=": c <= k, ">": c > k, ">=": c >= k, "==": c == k, "!=": c != k}[op]


def _method_call(node: Any) -> tuple[Any, str, list[Any]] | None:
    """(receiver, method, args) for `receiver.method(args...)`."""
    if not (isinstance(node, lark.Tree) and node.data == "member_dot_arg" and len(node.children) >= 2):
        return None
    receiver, method, *rest = node.children
    args = list(rest[0].children) if rest and isinstance(rest[0], lark.Tree) else []
    return receiver, str(method), args


def _is_device_path(node: Any) -> bool:
    """`device.capacity["gpu.nvidia.com"].memory` and the like: a value read off the device."""
    node = _unwrap(node)
    while isinstance(node, lark.Tree) and node.data in ("member_dot", "member_index"):
        node = _unwrap(node.children[0])
    return isinstance(node, lark.Tree) and node.data == "ident" and str(node.children[0]) == "device"


def _reads_device(node: Any) -> bool:
    return isinstance(node, lark.Tree) and any(
        isinstance(t, lark.Tree) and t.data == "ident" and str(t.children[0]) == "device" for t in node.iter_subtrees()
    )


def _constant(node: Any, source: str) -> str:
    """A constant as a person reads it: `quantity("141Gi")` is `141Gi`, `semver("1.2.3")` is `1.2.3`."""
    inner = _unwrap(node)
    if isinstance(inner, lark.Tree) and inner.data == "ident_arg" and str(inner.children[0]) in _CONSTRUCTORS:
        args = inner.children[1].children if len(inner.children) > 1 and isinstance(inner.children[1], lark.Tree) else []
        if args:
            text = _text(args[0], source)
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
                return text[1:-1]
    return _text(node, source)
