"""Token records in every backend: revocation and last use are atomic single-field updates,
and a SQLite file written before tokens had expiry, last use and revocation gains them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from laneway.store.base import Store, TokenRecord
from laneway.store.sqlite import SCHEMA_VERSION, SqliteStore

RECORD = TokenRecord(token_sha256="ab" * 32, role="team", namespaces=("ml-team",), description="ci",
                     created="2026-01-01T00:00:00Z", expires="2027-01-01T00:00:00Z")


def test_records_keep_expiry_and_revocation_is_kept_not_deleted(store: Store) -> None:
    store.put_token(RECORD)
    assert store.find_token(RECORD.token_sha256) == RECORD
    assert store.revoke_token(RECORD.token_sha256, "2026-02-01T00:00:00Z") is True
    assert store.revoke_token(RECORD.token_sha256, "2026-03-01T00:00:00Z") is False  # the first time stands
    revoked = store.find_token(RECORD.token_sha256)
    assert revoked is not None and revoked.revoked == "2026-02-01T00:00:00Z"
    assert [r.token_sha256 for r in store.list_tokens()] == [RECORD.token_sha256]
    assert store.revoke_token("cd" * 32, "2026-02-01T00:00:00Z") is False


def test_touch_records_use_and_never_undoes_a_revocation(store: Store) -> None:
    store.put_token(RECORD)
    store.revoke_token(RECORD.token_sha256, "2026-02-01T00:00:00Z")
    store.touch_token(RECORD.token_sha256, "2026-02-02T00:00:00Z")
    record = store.find_token(RECORD.token_sha256)
    assert record is not None and record.last_used == "2026-02-02T00:00:00Z" and record.revoked == "2026-02-01T00:00:00Z"


V1_TOKENS = """CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, namespaces TEXT NOT NULL,
    description TEXT NOT NULL, created TEXT NOT NULL) WITHOUT ROWID"""


def test_a_version_1_file_gains_the_new_token_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(V1_TOKENS)
    conn.execute("INSERT INTO tokens VALUES (?, 'admin', '[]', 'admin token of the data directory', '2025-01-01T00:00:00Z')",
                 ("ef" * 32,))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        record = store.find_token("ef" * 32)
        assert record is not None and record.role == "admin" and (record.expires, record.last_used, record.revoked) == ("", "", "")
        assert store.revoke_token("ef" * 32, "2026-01-01T00:00:00Z")
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
