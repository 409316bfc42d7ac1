"""The admin token of `laneway up` on a store several processes share: one, not one per start.

Processes on one PostgreSQL store each have a data directory of their own, often empty at each
start (pods on an emptyDir). The operator's token (`--admin-token-file`) serves them all; without
it, each data directory has one live admin token at most, however often its file is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from laneway.paths import DataDir
from laneway.server.auth import (
    AdminTokenError,
    authenticate,
    create_token,
    ensure_admin_token,
    hash_token,
    read_given_admin_token,
)
from laneway.store.base import TokenRecord
from laneway.store.memory import MemoryStore

GIVEN = "lw_" + "k" * 43


def _live_admins(store: MemoryStore) -> list[TokenRecord]:
    return [r for r in store.list_tokens() if r.role == "admin" and not r.revoked]


def test_processes_given_one_token_register_it_once_and_each_data_dir_holds_it(tmp_path: Path) -> None:
    store = MemoryStore()
    for start in range(5):  # three processes, then two of them restarted on empty data directories
        data = DataDir(tmp_path / f"pod-{start}")
        assert ensure_admin_token(store, data, given=GIVEN, source="/etc/laneway/admin-token") == GIVEN
        assert data.read_admin_token() == GIVEN
        assert (data.admin_token_path.stat().st_mode & 0o777) == 0o600
    assert [r.token_sha256 for r in _live_admins(store)] == [hash_token(GIVEN)]
    assert authenticate(store, GIVEN) is not None


def test_a_given_token_replaces_the_minted_one_which_is_revoked(tmp_path: Path) -> None:
    store = MemoryStore()
    data = DataDir(tmp_path / "data")
    minted = ensure_admin_token(store, data, host="h1")
    assert ensure_admin_token(store, data, given=GIVEN) == GIVEN
    assert authenticate(store, minted) is None  # its only copy was the file it was just replaced in
    assert [r.token_sha256 for r in _live_admins(store)] == [hash_token(GIVEN)]


def test_a_data_dir_that_lost_its_token_gets_a_successor_and_the_lost_one_is_revoked(tmp_path: Path) -> None:
    store = MemoryStore()
    data = DataDir(tmp_path / "data")
    other = ensure_admin_token(store, DataDir(tmp_path / "other"), host="h1")
    first = ensure_admin_token(store, data, host="h1")
    assert ensure_admin_token(store, data, host="h1") == first  # a restart reuses it
    for _ in range(3):  # the file is lost each time (an emptied data dir, a re-created container)
        data.admin_token_path.unlink()
        ensure_admin_token(store, data, host="h1")
    live = _live_admins(store)
    assert len(live) == 2  # one for each data directory, not one per start
    assert authenticate(store, other) is not None and authenticate(store, first) is None
    assert authenticate(store, data.read_admin_token() or "") is not None


def test_the_same_directory_on_another_host_is_another_data_directory(tmp_path: Path) -> None:
    store = MemoryStore()
    one = ensure_admin_token(store, DataDir(tmp_path / "data"), host="h1")
    (tmp_path / "data" / "admin.token").unlink()
    two = ensure_admin_token(store, DataDir(tmp_path / "data"), host="h2")
    assert authenticate(store, one) is not None and authenticate(store, two) is not None


def _revoked(store: MemoryStore) -> None:
    store.put_token(TokenRecord(hash_token(GIVEN), "admin"))
    store.revoke_token(hash_token(GIVEN), "2026-01-01T00:00:00Z")


def _team(store: MemoryStore) -> None:
    store.put_token(TokenRecord(hash_token(GIVEN), "team", ("ml",)))


def _expired(store: MemoryStore) -> None:
    store.put_token(TokenRecord(hash_token(GIVEN), "admin", expires="2020-01-01T00:00:00Z"))


@pytest.mark.parametrize(
    ("prepare", "message"),
    [(_revoked, "revoked at 2026-01-01T00:00:00Z"), (_team, "is a team token"), (_expired, "expired at 2020")],
)
def test_a_given_token_the_store_refuses_is_not_used(
    tmp_path: Path, prepare: Callable[[MemoryStore], None], message: str
) -> None:
    store = MemoryStore()
    prepare(store)
    data = DataDir(tmp_path / "data")
    with pytest.raises(AdminTokenError, match=message) as caught:
        ensure_admin_token(store, data, given=GIVEN, source="/etc/laneway/admin-token")
    assert "/etc/laneway/admin-token" in str(caught.value)
    assert data.read_admin_token() is None  # nothing written


def test_a_token_file_must_hold_one_long_printable_token(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text(GIVEN + "\n")
    assert read_given_admin_token(good) == GIVEN
    for name, text in (("short", "lw_abc"), ("spaced", "lw_" + "k" * 20 + " " + "k" * 20), ("empty", "")):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(AdminTokenError, match=f"{path}.*at least 32 printable"):
            read_given_admin_token(path)
    with pytest.raises(AdminTokenError, match="cannot read the admin token file"):
        read_given_admin_token(tmp_path / "missing")


def test_a_minted_team_token_is_never_taken_for_a_lost_admin_token(tmp_path: Path) -> None:
    store = MemoryStore()
    data = DataDir(tmp_path / "data")
    team = create_token(store, role="team", namespaces=["ml"], description=f"admin token of the data directory {data.root} on h1")
    ensure_admin_token(store, data, host="h1")
    assert authenticate(store, team) is not None  # a description alone does not make it the directory's admin token
