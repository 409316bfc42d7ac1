"""The shape bounds on untrusted documents (laneway.api.shape) and the loader that applies them
before building anything (issue 11, attack 4: a 393-byte alias bomb froze the API for 24 s;
deeply nested flow sequences blocked it for 3 s)."""

from __future__ import annotations

import pytest
import yaml

from laneway.api.errors import InvalidManifests, InvalidObject
from laneway.api.manifest import (
    FAST_LOADER,
    PURE_LOADER,
    Loader,
    iter_documents,
    load_document,
    load_text,
)
from laneway.api.shape import (
    MAX_ALIAS_NODES,
    MAX_ALIASES,
    MAX_NESTING,
    data_problem,
    node_problem,
)

LOADERS = [FAST_LOADER, PURE_LOADER] if FAST_LOADER is not PURE_LOADER else [PURE_LOADER]


def alias_bomb(levels: int = 8, fan: int = 9) -> str:
    """The billion-laughs document: each level lists the previous one `fan` times."""
    names = "abcdefghijklmnop"
    lines = ["a: &a [" + ",".join(['"lol"'] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def _node(text: str, loader: Loader) -> yaml.Node:
    parser = loader(text)
    try:
        node = parser.get_single_node()
    finally:
        parser.dispose()
    assert node is not None
    return node


@pytest.mark.parametrize("loader", LOADERS)
def test_the_alias_bomb_is_refused_before_it_is_built(loader: Loader) -> None:
    text = alias_bomb()
    assert len(text) < 400
    problem = node_problem(_node(text, loader))
    assert problem is not None and "aliases" in problem and f"{MAX_ALIAS_NODES:,}" in problem


@pytest.mark.parametrize("loader", LOADERS)
def test_a_few_aliases_that_repeat_a_block_are_fine(loader: Loader) -> None:
    text = "env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\nfirst: *env\nsecond: *env\n"
    assert node_problem(_node(text, loader)) is None
    assert load_document(text, source="t", max_nodes=1000, loader=loader)["second"][1]["value"] == "2"


@pytest.mark.parametrize("loader", LOADERS)
def test_too_many_aliases_are_refused_even_when_small(loader: Loader) -> None:
    text = "x: &x 1\ny: &y [0]\nz: [" + ", ".join(["*y"] * (MAX_ALIASES + 1)) + "]\n"
    problem = node_problem(_node(text, loader))
    assert problem is not None and f"at most {MAX_ALIASES}" in problem


@pytest.mark.parametrize("loader", LOADERS)
def test_a_recursive_alias_is_refused(loader: Loader) -> None:
    problem = node_problem(_node("a: &a [1, *a]\n", loader))
    assert problem is not None and "containing it" in problem


@pytest.mark.parametrize("loader", LOADERS)
def test_depth_counts_through_aliases(loader: Loader) -> None:
    half = MAX_NESTING // 2 + 5
    inner = "[" * half + "1" + "]" * half
    text = f"a: &a {inner}\nb: " + "[" * half + "*a" + "]" * half + "\n"
    problem = node_problem(_node(text, loader))
    assert problem is not None and "nested more than" in problem


def test_the_node_count_is_bounded() -> None:
    text = "[" + ", ".join(["1"] * 200) + "]"
    assert node_problem(_node(text, FAST_LOADER), max_nodes=100) is not None
    assert node_problem(_node(text, FAST_LOADER), max_nodes=1000) is None


def test_plain_data_bounds_for_json_bodies() -> None:
    assert data_problem({"a": [1, 2, {"b": "c"}]}) is None
    deep: object = 1
    for _ in range(MAX_NESTING + 1):
        deep = [deep]
    assert "nested more than" in str(data_problem(deep))
    assert "nodes" in str(data_problem(list(range(500)), max_nodes=100))


@pytest.mark.parametrize("loader", LOADERS)
def test_manifest_loading_refuses_the_bomb_with_its_file_and_document(loader: Loader) -> None:
    text = "kind: InferenceGateway\n---\n" + alias_bomb()
    with pytest.raises(InvalidObject) as info:
        list(iter_documents(text, "bomb.yaml", loader=loader))
    assert info.value.source == "bomb.yaml" and info.value.document == 1
    assert "aliases" in info.value.problems[0].message


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x", "{a: " * 5000 + "1" + "}" * 5000])
def test_deep_flow_and_block_nesting_is_refused_quickly(text: str) -> None:
    with pytest.raises(InvalidManifests) as info:
        load_text(text, source="deep.yaml")
    assert "nested more than" in info.value.errors[0].problems[0].message


@pytest.mark.parametrize("loader", LOADERS)
def test_both_loaders_build_the_same_data(loader: Loader) -> None:
    text = "a: {<<: {b: 1}, c: 2}\nd: 2024-01-01\ne: !!str 1\nf: [1, 2.5, null, true, x]\ng: &g {h: i}\nj: *g\n"
    assert load_document(text, source="t", max_nodes=1000, loader=loader) == yaml.load(text, Loader=yaml.SafeLoader)


def test_the_memoising_loader_resolves_every_scalar_as_pyyaml_does_and_forgets_on_dispose() -> None:
    text = (
        "a: 1\nb: '1'\nc: true\nd: 'true'\ne: null\nf: ~\ng: 2001-12-14\nh: 1.5\ni: 0x1f\nj: text\n"
        "k: [1, '1', true, text, 1]\nl: {1: one, '1': one}\n---\na: 1\nb: '1'\nc: yes\n"
    )
    plain = list(yaml.load_all(text, Loader=PURE_LOADER))
    assert list(yaml.load_all(text, Loader=FAST_LOADER)) == plain
    parser = FAST_LOADER(text)
    try:
        while parser.check_node():
            parser.get_node()
    finally:
        parser.dispose()
    assert "resolve" not in vars(parser), "nothing of the text is kept past dispose"


@pytest.mark.parametrize("loader", LOADERS)
def test_one_walk_counts_nodes_as_the_graph_check_does(loader: type) -> None:
    """Alias-free documents are checked while they are built: the count must agree with
    `node_problem` at the bound, whatever the nesting (scalars after a nested block included)."""
    nested = "a:\n" + "".join(f"  k{i}: v\n" for i in range(30)) + "".join(f"s{i}: v\n" for i in range(20))
    for text in (nested, "- [1, 2, [3, 4]]\n- {a: b}\n" * 10):
        node = _node(text, loader)
        exact = next(n for n in range(1, 400) if node_problem(node, max_nodes=n) is None)
        with pytest.raises(InvalidObject, match="more than"):
            load_document(text, source="t", max_nodes=exact - 1, loader=loader)
        assert load_document(text, source="t", max_nodes=exact, loader=loader) == yaml.safe_load(text)
