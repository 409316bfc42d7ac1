"""Which namespace a command without -n uses, and the not-found hint (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from laneway.cli.contexts import CliConfig, default_namespace
from laneway.cli.errors import Failure
from laneway.cli.notfound import namespaces_holding
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_cluster


def test_default_namespace_order() -> None:
    assert default_namespace("ctx-ns", ["ml-team"]) == "ctx-ns"
    assert default_namespace(None, ["ml-team"]) == "ml-team"
    assert default_namespace(None, ["a", "b"]) == "default"
    assert default_namespace(None, []) == "default"
    assert default_namespace(None, None) == "default"


def test_config_round_trip_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    assert CliConfig.read(path).namespace() is None
    CliConfig(current="t", contexts={"t": {"namespace": "ml-team"}}).write(path)
    assert CliConfig.read(path).namespace() == "ml-team"
    path.write_text("{not json")
    with pytest.raises(Failure, match="not a laneway CLI config"):
        CliConfig.read(path)


def test_namespaces_holding_skips_the_one_asked() -> None:
    store = MemoryStore()
    cluster = add_cluster(store, "edge", {})
    assert namespaces_holding("edge", [cluster], besides="default") == []


def test_get_accepts_kind_slash_name() -> None:
    from laneway.cli.kinds import split_kind_name

    assert split_kind_name("md/chat", None) == ("md", "chat")
    assert split_kind_name("md,ms", None) == ("md,ms", None)
    assert split_kind_name("md", "chat") == ("md", "chat")
    with pytest.raises(Failure):
        split_kind_name("md/chat", "other")
