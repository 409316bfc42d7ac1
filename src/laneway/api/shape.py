"""Bounds on the shape of a document, checked before anything walks it in full.

A manifest or request body is untrusted input: a 393-byte YAML text whose aliases nest eight
levels deep stands for 43 million nodes, and a few kilobytes of `[[[[...` nest deeper than
Python's recursion limit. Everything downstream (Modelplane key translation, pydantic, JSON
encoding, the store) walks a document node by node, so the only safe place to refuse such a
document is before it is built.

What is bounded, per document:

- nesting depth (`MAX_NESTING`), counted through aliases, so an alias cannot smuggle depth;
- the number of nodes (`max_nodes`; the API server passes a lower bound than manifest files,
  since one object never holds a fleet);
- aliases: at most `MAX_ALIASES` uses, and together they may add at most `MAX_ALIAS_NODES`
  nodes to the document; an alias that refers to a node containing it is refused.

`node_problem` checks a composed YAML node graph, where an alias is the same node object met
again, so the expanded size is computed (memoised, in time linear in the distinct nodes)
without ever expanding it. `data_problem` checks plain data (a decoded JSON body), where no
node is shared. Both are iterative: neither can run out of stack on what it refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

MAX_NESTING = 100
"""How deep a document may nest. Real manifests stay under 20 levels; a deeper one is a
mistake (or an attack) that would otherwise exhaust Python's recursion limit somewhere
between the parser and the models, and surface as an internal error instead of a refusal."""

MAX_DOCUMENT_NODES = 1_000_000
"""Nodes in one document of a manifest file (a `kind: List` of a few thousand objects fits)."""

MAX_ALIASES = 100
"""Alias uses (`*name`) in one document. Manifests rarely use any; a few repeat a block."""

MAX_ALIAS_NODES = 10_000
"""Nodes that aliases may add to one document once expanded: enough to repeat a container
spec or an env block a few times, far too few to amplify a small text into a large one."""

TOO_DEEP_MESSAGE = f"the document is nested more than {MAX_NESTING} levels deep; a manifest is never this deep: check how it was generated"


def too_many_nodes_message(limit: int) -> str:
    return f"the document has more than {limit:,} nodes; one document is never this large: split it into several objects"


def _alias_count_message(count: int) -> str:
    return (
        f"the document uses {count} YAML aliases (*name); at most {MAX_ALIASES} are allowed in one document: "
        "write the repeated blocks out"
    )


ALIAS_EXPANSION_MESSAGE = (
    f"the document has YAML aliases (*name) that expand to more than {MAX_ALIAS_NODES:,} extra nodes; "
    "write the repeated blocks out instead of referring to them"
)
ALIAS_CYCLE_MESSAGE = "the document has a YAML alias (*name) that refers to a node containing it; a manifest cannot be recursive"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def node_problem(root: yaml.Node, *, max_nodes: int = MAX_DOCUMENT_NODES) -> str | None:
    """Why the composed document `root` is refused, or None when its shape is within bounds.

    One pass over the distinct collection nodes (scalars are counted where they stand, which
    keeps the pass cheap on a fleet's worth of manifests); only a document with aliases gets
    the second, memoised pass that sizes it as expanded."""
    if not isinstance(root.value, list):
        return None
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    nodes = 0
    aliases = 0
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            aliases += 1
            continue
        seen.add(id(node))
        nodes += 1
        if depth > MAX_NESTING:
            return TOO_DEEP_MESSAGE
        children = _children(node)
        for child in children:
            if isinstance(child.value, list):
                stack.append((child, depth + 1))
            else:
                nodes += 1
        if nodes > max_nodes:
            return too_many_nodes_message(max_nodes)
    if aliases == 0:
        return None
    if aliases > MAX_ALIASES:
        return _alias_count_message(aliases)
    return _expanded_problem(root, distinct=nodes, max_nodes=max_nodes)


def _expanded_problem(root: yaml.Node, *, distinct: int, max_nodes: int) -> str | None:
    """Size and depth of the document as its aliases expand it, memoised per node.

    An iterative post-order walk: a node is expanded (grey) once, finished (its size and
    height known) after all its children; a child still grey is an ancestor, hence a cycle."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    grey: set[int] = set()
    limit = min(max_nodes, distinct + MAX_ALIAS_NODES)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            grey.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            if height[key] > MAX_NESTING:
                return TOO_DEEP_MESSAGE
            if size[key] > limit:
                return ALIAS_EXPANSION_MESSAGE if size[key] <= max_nodes else too_many_nodes_message(max_nodes)
            continue
        if key in size:
            continue
        if key in grey:
            return ALIAS_CYCLE_MESSAGE
        grey.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in grey:
                return ALIAS_CYCLE_MESSAGE
            if id(child) not in size:
                stack.append((child, False))
    return None


def data_problem(value: Any, *, max_nodes: int = MAX_DOCUMENT_NODES) -> str | None:
    """Why the plain data `value` (a decoded JSON document) is refused, or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return too_many_nodes_message(max_nodes)
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
            nodes += len(node)  # the keys
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_NESTING:
            return TOO_DEEP_MESSAGE
        stack.extend((child, depth + 1) for child in children)
    return None
