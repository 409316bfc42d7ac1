"""The life of a token: expiry, revocation, last use, rotation, and who may see which token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from laneway.paths import DataDir
from laneway.server.auth import (
    LAST_USED_RESOLUTION,
    authenticate,
    check_token,
    create_token,
    ensure_admin_token,
    hash_token,
)
from laneway.server.token_admin import (
    AdminFile,
    TokenNotFound,
    TokenRefused,
    resolve,
    revoke,
    rotate,
    state_of,
    token_id,
    token_view,
    visible_tokens,
)
from laneway.store.memory import MemoryStore

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def test_a_token_with_a_ttl_stops_working_when_it_expires() -> None:
    store = MemoryStore()
    token = create_token(store, role="team", namespaces=["ml-team"], ttl=timedelta(hours=1), now=T0)
    assert check_token(store, token, now=T0 + timedelta(minutes=59)).record is not None
    late = check_token(store, token, now=T0 + timedelta(hours=1))
    assert late.record is None and "expired at 2026-06-01T13:00:00Z" in late.refusal


def test_a_revoked_token_stops_working_on_its_next_use() -> None:
    store = MemoryStore()
    admin = store.find_token(hash_token(create_token(store, role="admin")))
    token = create_token(store, role="team", namespaces=["ml-team"])
    assert authenticate(store, token) is not None
    assert admin is not None
    record = resolve(store, admin, hash_token(token)[:12], AdminFile(None))
    revoke(store, record, AdminFile(None), now=T0)
    assert authenticate(store, token) is None
    assert "revoked at 2026-06-01T12:00:00Z" in check_token(store, token).refusal
    with pytest.raises(TokenRefused, match="already revoked"):
        revoke(store, record, AdminFile(None))


def test_last_use_is_written_at_most_once_a_minute() -> None:
    store = MemoryStore()
    token = create_token(store, role="platform", now=T0)
    check_token(store, token, now=T0)
    check_token(store, token, now=T0 + LAST_USED_RESOLUTION / 2)
    record = store.find_token(hash_token(token))
    assert record is not None and record.last_used == "2026-06-01T12:00:00Z"
    check_token(store, token, now=T0 + LAST_USED_RESOLUTION)
    record = store.find_token(hash_token(token))
    assert record is not None and record.last_used == "2026-06-01T12:01:00Z"


def test_a_team_token_sees_and_resolves_only_itself() -> None:
    store = MemoryStore()
    mine = create_token(store, role="team", namespaces=["ml-team"])
    theirs = create_token(store, role="team", namespaces=["research"])
    admin_token = create_token(store, role="admin")
    grant = store.find_token(hash_token(mine))
    assert grant is not None
    assert [r.token_sha256 for r in visible_tokens(store, grant)] == [hash_token(mine)]
    for other in (theirs, admin_token):
        with pytest.raises(TokenNotFound):
            resolve(store, grant, hash_token(other)[:12], AdminFile(None))
    assert resolve(store, grant, hash_token(mine)[:12], AdminFile(None)) == grant


def test_ids_must_look_like_ids() -> None:
    store = MemoryStore()
    admin = store.find_token(hash_token(create_token(store, role="admin")))
    assert admin is not None
    for bad in ("", "abc", "zzzzzzzzzzzz", "../../etc"):
        with pytest.raises(TokenNotFound):
            resolve(store, admin, bad, AdminFile(None))


def test_the_view_never_holds_the_token() -> None:
    store = MemoryStore()
    token = create_token(store, role="team", namespaces=["ml-team"], description="ci", ttl=timedelta(days=1), now=T0)
    record = store.find_token(hash_token(token))
    assert record is not None
    view = token_view(record, T0)
    assert token not in repr(view) and record.token_sha256 not in repr(view)
    assert view["id"] == token_id(record) and view["state"] == "Active" and view["expires"] == "2026-06-02T12:00:00Z"
    assert state_of(record, T0 + timedelta(days=2)) == "Expired"


def test_rotating_the_admin_token_rewrites_the_file_and_ends_the_old_one(tmp_path: Path) -> None:
    store = MemoryStore()
    data = DataDir(tmp_path / "data")
    old = ensure_admin_token(store, data)
    admin_file = AdminFile(data.admin_token_path)
    grant = authenticate(store, old)
    assert grant is not None
    with pytest.raises(TokenRefused, match="rotate it instead"):
        revoke(store, resolve(store, grant, "admin", admin_file), admin_file)
    rotated = rotate(store, resolve(store, grant, "admin", admin_file), admin_file)
    assert rotated.written_to == data.admin_token_path
    assert data.read_admin_token() == rotated.token != old
    assert (data.admin_token_path.stat().st_mode & 0o777) == 0o600
    assert authenticate(store, old) is None and authenticate(store, rotated.token) is not None
    assert rotated.record.role == "admin"
    assert ensure_admin_token(store, data) == rotated.token  # a restart keeps the rotated token


def test_a_restart_never_brings_a_revoked_admin_token_back(tmp_path: Path) -> None:
    store = MemoryStore()
    data = DataDir(tmp_path / "data")
    old = ensure_admin_token(store, data)
    store.revoke_token(hash_token(old), "2026-01-01T00:00:00Z")  # e.g. revoked through another admin token
    new = ensure_admin_token(store, data)
    assert new != old and data.read_admin_token() == new
    assert authenticate(store, old) is None and authenticate(store, new) is not None


def test_rotation_keeps_the_grant_and_expiry() -> None:
    store = MemoryStore()
    token = create_token(store, role="team", namespaces=["ml-team", "b"], description="ci", ttl=timedelta(days=30), now=T0)
    record = store.find_token(hash_token(token))
    assert record is not None
    rotated = rotate(store, record, AdminFile(None), now=T0 + timedelta(days=1))
    assert rotated.written_to is None
    assert (rotated.record.role, rotated.record.namespaces, rotated.record.description, rotated.record.expires) == (
        "team", ("ml-team", "b"), "ci", record.expires)
    assert check_token(store, token, now=T0 + timedelta(days=1)).record is None
