"""How the CLI finds its server and token: flags, environment, then a local `laneway up`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from laneway.cli.config import LocalInstance, NoServer, discover, local_root, resolve_connection

LOCAL = LocalInstance(root=Path("/data"), server="http://127.0.0.1:8470", token="lw_admin")
NOTHING = LocalInstance(root=Path("/data"), server=None, token=None)


def test_flags_win_over_environment() -> None:
    conn = resolve_connection(
        server_flag="http://flag:1", token_flag="t-flag", env={"LANEWAY_SERVER": "http://env:2", "LANEWAY_TOKEN": "t-env"}, local=LOCAL
    )
    assert (conn.server, conn.token, conn.source) == ("http://flag:1", "t-flag", "--server")


def test_environment_wins_over_local_instance() -> None:
    conn = resolve_connection(server_flag=None, token_flag=None, env={"LANEWAY_SERVER": "http://env:2", "LANEWAY_TOKEN": "t-env"}, local=LOCAL)
    assert (conn.server, conn.token) == ("http://env:2", "t-env")


def test_local_instance_gives_server_and_admin_token() -> None:
    conn = resolve_connection(server_flag=None, token_flag=None, env={}, local=LOCAL)
    assert (conn.server, conn.token) == ("http://127.0.0.1:8470", "lw_admin")


def test_admin_token_is_never_sent_to_another_server() -> None:
    conn = resolve_connection(server_flag="http://elsewhere:8470", token_flag=None, env={}, local=LOCAL)
    assert conn.token is None


def test_admin_token_goes_to_the_local_server_named_explicitly() -> None:
    conn = resolve_connection(server_flag="http://127.0.0.1:8470/", token_flag=None, env={}, local=LOCAL)
    assert conn.token == "lw_admin"


def test_scheme_is_added_when_missing() -> None:
    conn = resolve_connection(server_flag="127.0.0.1:9", token_flag=None, env={}, local=NOTHING)
    assert conn.server == "http://127.0.0.1:9"


def test_nothing_found_says_what_to_do() -> None:
    with pytest.raises(NoServer) as e:
        resolve_connection(server_flag=None, token_flag=None, env={}, local=NOTHING)
    assert "laneway up" in str(e.value) and "LANEWAY_SERVER" in str(e.value)


def test_local_root_order(tmp_path: Path) -> None:
    assert local_root("/x", {"LANEWAY_DATA_DIR": "/y"}) == Path("/x")
    assert local_root(None, {"LANEWAY_DATA_DIR": "/y"}) == Path("/y")
    assert local_root(None, {}).name == ".laneway"


def test_discover_reads_server_json_and_admin_token(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text(json.dumps({"server": "http://127.0.0.1:9999"}))
    (tmp_path / "admin.token").write_text("lw_secret\n")
    conn = discover(server_flag=None, token_flag=None, data_dir_flag=str(tmp_path), env={})
    assert (conn.server, conn.token) == ("http://127.0.0.1:9999", "lw_secret")


def test_discover_with_unreadable_server_json(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text("{not json")
    with pytest.raises(NoServer):
        discover(server_flag=None, token_flag=None, data_dir_flag=str(tmp_path), env={})


def test_a_contexts_server_comes_after_flags_and_environment_and_before_the_data_dir() -> None:
    from laneway.cli.config import ContextServer

    context = ContextServer(context="remote", server="http://ctx:3")
    conn = resolve_connection(server_flag=None, token_flag=None, env={}, local=LOCAL, context=context)
    assert conn.server == "http://ctx:3" and conn.token is None, "the local admin token goes only to its own server"
    assert "'remote'" in conn.source
    env = resolve_connection(server_flag=None, token_flag=None, env={"LANEWAY_SERVER": "http://env:2"}, local=LOCAL, context=context)
    assert env.server == "http://env:2"
    flag = resolve_connection(server_flag="http://flag:1", token_flag=None, env={}, local=LOCAL, context=context)
    assert flag.server == "http://flag:1"
    same = resolve_connection(server_flag=None, token_flag=None, env={}, local=LOCAL, context=ContextServer("l", str(LOCAL.server)))
    assert same.token == LOCAL.token, "a context naming the local server still gets its admin token"


def test_a_contexts_server_is_checked() -> None:
    from laneway.cli.contexts import checked_server
    from laneway.cli.errors import Failure

    assert checked_server("127.0.0.1:8470") == "http://127.0.0.1:8470"
    assert checked_server("https://fleet.example/") == "https://fleet.example"
    for bad in ("ftp://x", "http://", "http://h:port"):
        with pytest.raises(Failure):
            checked_server(bad)
