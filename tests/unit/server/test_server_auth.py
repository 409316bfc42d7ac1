"""Tokens: minted once, stored as hashes, the admin token kept private in the data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from laneway.paths import DataDir
from laneway.server.auth import (
    TokenRequestInvalid,
    authenticate,
    bearer_token,
    create_token,
    ensure_admin_token,
    hash_token,
)
from laneway.store.memory import MemoryStore


def test_tokens_are_stored_only_as_hashes() -> None:
    store = MemoryStore()
    token = create_token(store, role="team", namespaces=["ml-team", "ml-team"], description="ci")
    [record] = store.list_tokens()
    assert record.token_sha256 == hash_token(token) and token not in repr(record)
    assert record.namespaces == ("ml-team",)
    assert authenticate(store, token) == record
    assert authenticate(store, token + "x") is None


@pytest.mark.parametrize(
    ("role", "namespaces", "field"),
    [
        ("root", [], "role"),
        ("team", [], "namespaces"),
        ("platform", ["ml-team"], "namespaces"),
        ("team", ["Bad_NS"], "namespaces[0]"),
    ],
)
def test_bad_token_requests_name_the_field(role: str, namespaces: list[str], field: str) -> None:
    with pytest.raises(TokenRequestInvalid) as caught:
        create_token(MemoryStore(), role=role, namespaces=namespaces)
    assert field in [p.path for p in caught.value.problems]


def test_admin_token_is_written_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "data")
    store = MemoryStore()
    token = ensure_admin_token(store, data_dir)
    mode = stat.S_IMODE(data_dir.admin_token_path.stat().st_mode)
    assert mode == 0o600
    assert ensure_admin_token(store, data_dir) == token
    assert len(store.list_tokens()) == 1
    fresh_store = MemoryStore()  # a store that lost its tokens learns the kept one again
    assert ensure_admin_token(fresh_store, data_dir) == token
    record = authenticate(fresh_store, token)
    assert record is not None and record.role == "admin"


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None)],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
