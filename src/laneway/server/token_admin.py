"""The life of a token after it is minted: naming it, showing it, revoking it, rotating it.

A token is named by its id, the first 12 hex digits of its SHA-256 (what `laneway token list`
shows; the token itself is never shown again). Revoking marks the record, which is kept, so
the listing says what was revoked and when, and a revoked token cannot be re-registered.

Rotating mints a successor with the same grant (role, namespaces, description, expiry) and
revokes the old token. When the old token is the data directory's admin token (the one
`laneway up` wrote to `admin.token`), the successor is written there before the old one is
revoked, so the local CLI moves to it at once and there is no moment without a working
admin token. That token cannot be revoked outright, only rotated: revoking it would lock the
local admin out until the next restart.

Who may do what is decided here too: an admin manages every token; any other token sees and
may revoke only itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from laneway.server.auth import (
    create_token,
    format_time,
    hash_token,
    refusal_of,
    utc_now,
    write_admin_token,
)
from laneway.store.base import Store, TokenRecord

TOKEN_ID_LENGTH = 12
DATA_DIR_ADMIN = "admin"
"""The id that names the data directory's admin token, whatever its hash."""


class TokenNotFound(LookupError):
    """No token has this id (or, for `admin`, this server keeps no admin token file)."""


class TokenRefused(Exception):
    """A token operation that cannot be done as asked; the message says what to do instead."""


def token_id(record: TokenRecord) -> str:
    return record.token_sha256[:TOKEN_ID_LENGTH]


def state_of(record: TokenRecord, now: datetime) -> str:
    if record.revoked:
        return "Revoked"
    return "Expired" if refusal_of(record, now) else "Active"


def token_view(record: TokenRecord, now: datetime) -> dict[str, object]:
    """What a listing shows of a token: its id and grant and times, never the token."""
    return {
        "id": token_id(record),
        "role": record.role,
        "namespaces": list(record.namespaces),
        "description": record.description,
        "created": record.created,
        "lastUsed": record.last_used or None,
        "expires": record.expires or None,
        "revoked": record.revoked or None,
        "state": state_of(record, now),
    }


def may_see(grant: TokenRecord, record: TokenRecord) -> bool:
    """An admin sees every token; anyone else only their own."""
    return grant.role == "admin" or grant.token_sha256 == record.token_sha256


def visible_tokens(store: Store, grant: TokenRecord) -> list[TokenRecord]:
    return [r for r in store.list_tokens() if may_see(grant, r)]


@dataclass(frozen=True)
class AdminFile:
    """Where `laneway up` keeps the data directory's admin token (None when this server has none)."""

    path: Path | None

    def current_sha256(self) -> str | None:
        if self.path is None:
            return None
        try:
            token = self.path.read_text().strip()
        except OSError:
            return None
        return hash_token(token) if token else None


def resolve(store: Store, grant: TokenRecord, ident: str, admin_file: AdminFile) -> TokenRecord:
    """The token named `ident` (an id, a longer prefix of its hash, or `admin`) that `grant`
    may see. Raises TokenNotFound, also for tokens the grant may not see (so a team token
    cannot probe for other tokens' ids)."""
    if ident == DATA_DIR_ADMIN:
        sha = admin_file.current_sha256()
        record = store.find_token(sha) if sha else None
        if record is None or not may_see(grant, record):
            raise TokenNotFound("this server keeps no admin token file (it is not `laneway up`'s API)")
        return record
    ident = ident.lower()
    if len(ident) < TOKEN_ID_LENGTH or any(c not in "0123456789abcdef" for c in ident):
        raise TokenNotFound(f"{ident!r} is not a token id: use the {TOKEN_ID_LENGTH}-character ID of `laneway token list`")
    matches = [r for r in store.list_tokens() if r.token_sha256.startswith(ident) and may_see(grant, r)]
    if len(matches) != 1:
        raise TokenNotFound(f"no token has id {ident!r}: `laneway token list` shows the ids")
    return matches[0]


def revoke(store: Store, record: TokenRecord, admin_file: AdminFile, *, now: datetime | None = None) -> TokenRecord:
    """Revoke `record` now; the updated record. Raises TokenRefused for the data directory's
    admin token (rotate it instead) and for a token already revoked."""
    if record.token_sha256 == admin_file.current_sha256():
        raise TokenRefused(
            "this is the data directory's admin token, which laneway up and the local CLI use; "
            "rotate it instead (laneway token rotate-admin): the old one stops working and the new one is "
            "written to the data directory"
        )
    if not store.revoke_token(record.token_sha256, format_time(now or utc_now())):
        raise TokenRefused(f"token {token_id(record)} was already revoked at {record.revoked}")
    revoked = store.find_token(record.token_sha256)
    return revoked if revoked is not None else record


@dataclass(frozen=True)
class Rotated:
    token: str
    record: TokenRecord
    written_to: Path | None


def rotate(
    store: Store, record: TokenRecord, admin_file: AdminFile, *, ttl: timedelta | None = None,
    now: datetime | None = None,
) -> Rotated:
    """Mint the successor of `record` (same grant and expiry unless `ttl` is given), put it in
    the admin token file if `record` is the one there, then revoke `record`."""
    when = now or utc_now()
    if record.revoked:
        raise TokenRefused(f"token {token_id(record)} was revoked at {record.revoked}; create a new one instead")
    if record.role in ("join", "machine"):
        raise TokenRefused(
            f"token {token_id(record)} is a {record.role} token of a machine, which is not rotated: mint a new join token "
            "(laneway cluster join-token CLUSTER), or remove the machine (laneway cluster remove-machine) and join it again"
        )
    in_file = record.token_sha256 == admin_file.current_sha256()
    token = create_token(
        store,
        role=record.role,
        namespaces=record.namespaces,
        description=record.description,
        ttl=ttl,
        expires="" if ttl is not None else record.expires,
        now=when,
    )
    sha = hash_token(token)
    if in_file and admin_file.path is not None:
        try:
            write_admin_token(admin_file.path, token)
        except OSError as e:
            store.revoke_token(sha, format_time(when))
            raise TokenRefused(f"cannot write the new admin token to the data directory ({e.strerror or e}); "
                               "the old token still works") from None
    store.revoke_token(record.token_sha256, format_time(when))
    successor = store.find_token(sha)
    assert successor is not None, "a token just stored is found"
    return Rotated(token=token, record=successor, written_to=admin_file.path if in_file else None)
