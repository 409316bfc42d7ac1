"""Bearer tokens: minted once, shown once, stored only as their SHA-256.

A token is 32 random bytes (URL-safe base64, prefixed `lw_` so it is recognisable in a
leaked-credential scan). The store keeps `TokenRecord(token_sha256, role, namespaces, ...)`;
a request's token is hashed and looked up, so a copy of the store grants nothing.

`check_token` is the one check every door uses (the API's middleware, and the gateway's
platform-only paths through `authenticate`): a token is good while the store knows it, it is
not revoked and not past its expiry. Nothing caches a grant, so a revocation holds on the
next request everywhere. The time of last use is written at most once a minute per token,
so authentication does not turn every read into a write.

`laneway up` calls `ensure_admin_token` on every start: the first start mints the admin token
and writes it to the data directory (mode 0600) for the local CLI; later starts read it back
and make sure the store still knows it (a wiped store with a kept data directory keeps working).
Processes sharing one PostgreSQL store are given one admin token by the operator
(`--admin-token-file`), so more processes, or pods restarted on empty data directories, do not
pile admin tokens up in the store.
What each role may do is decided in `authz.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from laneway.api.errors import FieldProblem
from laneway.api.meta import check_dns1123_label
from laneway.paths import DataDir
from laneway.store.base import Store, TokenRecord

ROLES: tuple[str, ...] = ("admin", "platform", "team")
TOKEN_PREFIX = "lw_"
LAST_USED_RESOLUTION = timedelta(seconds=60)
ADMIN_TOKEN_DESCRIPTION = "admin token of the data directory"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(when: datetime) -> str:
    """RFC 3339 in UTC, to the second, as every laneway timestamp is written."""
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime | None:
    """The datetime of a stored timestamp, or None when unset (or unreadable)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def utc_now() -> datetime:
    return datetime.now(UTC)


class TokenRequestInvalid(ValueError):
    """A token request that names a bad role or namespaces; `problems` say which field and why."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_token_request(role: object, namespaces: object) -> list[FieldProblem]:
    """Problems with a requested grant: a known role; team tokens name namespaces, others none."""
    problems: list[FieldProblem] = []
    if role not in ROLES:
        problems.append(FieldProblem("role", f"must be one of {', '.join(ROLES)}; got {role!r}"))
    if not isinstance(namespaces, (list, tuple)) or not all(isinstance(n, str) for n in namespaces):
        problems.append(FieldProblem("namespaces", "must be a list of namespace names"))
        return problems
    for i, ns in enumerate(namespaces):
        try:
            check_dns1123_label(ns, "namespace")
        except ValueError as e:
            problems.append(FieldProblem(f"namespaces[{i}]", str(e)))
    if role == "team" and not namespaces:
        problems.append(FieldProblem("namespaces", "a team token needs at least one namespace, e.g. ['ml-team']"))
    if role in ("admin", "platform") and namespaces:
        problems.append(FieldProblem("namespaces", f"a {role} token is not scoped to namespaces; leave them out"))
    return problems


def create_token(
    store: Store,
    *,
    role: str,
    namespaces: Sequence[str] = (),
    description: str = "",
    ttl: timedelta | None = None,
    expires: str = "",
    now: datetime | None = None,
) -> str:
    """Mint a token with this grant, store its hash, and return the token (the only time it is seen).

    It expires `ttl` from now, or at `expires` (RFC 3339), or never. Raises
    TokenRequestInvalid when the role or namespaces are not valid."""
    problems = check_token_request(role, list(namespaces))
    if problems:
        raise TokenRequestInvalid(problems)
    created = now or utc_now()
    token = new_token()
    store.put_token(
        TokenRecord(
            token_sha256=hash_token(token),
            role=role,  # type: ignore[arg-type]  # checked against ROLES above
            namespaces=tuple(dict.fromkeys(namespaces)),
            description=description,
            created=format_time(created),
            expires=format_time(created + ttl) if ttl is not None else expires,
        )
    )
    return token


def write_private(path: os.PathLike[str] | str, text: str) -> None:
    """Write `text` readable by the owner only, from the first byte on (no chmod window)."""
    tmp = f"{os.fspath(path)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_admin_token(path: os.PathLike[str] | str, token: str) -> None:
    """Put `token` where `laneway up` keeps the admin token (owner-only, replaced atomically)."""
    write_private(path, token + "\n")


class AdminTokenError(ValueError):
    """The admin token `laneway up` was given cannot serve; the message says what to change."""


GIVEN_ADMIN_DESCRIPTION = "admin token given to laneway up (--admin-token-file)"
MIN_GIVEN_TOKEN_LENGTH = 32
"""A given admin token is at least this long (what `new_token` makes is 46 characters)."""


def data_dir_admin_description(data_dir: DataDir, host: str) -> str:
    """The description of the admin token `laneway up` mints for one data directory on one
    host: what tells its lost predecessors apart from every other process's token."""
    return f"{ADMIN_TOKEN_DESCRIPTION} {data_dir.root} on {host}"


def read_given_admin_token(path: os.PathLike[str] | str) -> str:
    """The admin token an operator put in `path` (e.g. a mounted Kubernetes Secret)."""
    try:
        text = Path(path).read_text().strip()
    except OSError as e:
        raise AdminTokenError(f"cannot read the admin token file {path}: {e.strerror or e}; check the path") from None
    except UnicodeDecodeError:
        raise AdminTokenError(f"the admin token file {path} is not text: put one token in it, e.g. lw_ and 43 random characters") from None
    if len(text) < MIN_GIVEN_TOKEN_LENGTH or not all(33 <= ord(c) < 127 for c in text):
        raise AdminTokenError(
            f"the admin token in {path} must be one line of at least {MIN_GIVEN_TOKEN_LENGTH} printable ASCII characters "
            "without spaces (e.g. `echo lw_$(openssl rand -hex 32) > FILE`)"
        )
    return text


def _retire(store: Store, record: TokenRecord | None, now: datetime) -> None:
    """Revoke an admin token laneway minted for a data directory whose only copy is gone."""
    minted_here = record is not None and record.role == "admin" and record.description.startswith(ADMIN_TOKEN_DESCRIPTION)
    if record is not None and minted_here and not refusal_of(record, now):
        store.revoke_token(record.token_sha256, format_time(now))


def _use_given(store: Store, data_dir: DataDir, token: str, source: str, now: datetime) -> str:
    record = store.find_token(hash_token(token))
    if record is None:
        store.put_token(TokenRecord(token_sha256=hash_token(token), role="admin",
                                    description=GIVEN_ADMIN_DESCRIPTION, created=format_time(now)))
    elif record.role != "admin":
        raise AdminTokenError(f"the token in {source} is a {record.role} token in this store, not an admin token: "
                              "put a new random token in the file")
    elif refusal := refusal_of(record, now):
        raise AdminTokenError(f"the token in {source} cannot be the admin token: {refusal}; put a new random token in the file")
    previous = data_dir.read_admin_token()
    if previous != token:
        if previous:  # minted here before: the file was its only copy, and it is overwritten now
            _retire(store, store.find_token(hash_token(previous)), now)
        write_admin_token(data_dir.admin_token_path, token)
    return token


def ensure_admin_token(
    store: Store, data_dir: DataDir, *, given: str | None = None, source: str = "", host: str | None = None
) -> str:
    """The admin token of this data directory, written (0600) where the local CLI reads it.

    With `given` (the operator's token, from `source`: `--admin-token-file`), that token: it is
    registered when the store does not know it, and is what every process on a shared store
    uses, so starting more processes (or restarting them on empty data directories, as pods
    with an emptyDir do) adds no admin token. A given token the store holds revoked, expired or
    with another role is refused (AdminTokenError).

    Otherwise the token already in the data directory, re-registered if the store has lost
    it; a token the store records as revoked or expired is never brought back. When the data
    directory has none, one is minted for this data directory on this `host`, and a live
    predecessor minted for the same directory on the same host, whose only copy was the file
    now gone, is revoked: one data directory never holds more than one live admin token."""
    data_dir.ensure()
    now = utc_now()
    if given is not None:
        return _use_given(store, data_dir, given, source or "the given token", now)
    host = host or socket.gethostname()
    description = data_dir_admin_description(data_dir, host)
    existing = data_dir.read_admin_token()
    if existing:
        record = store.find_token(hash_token(existing))
        if record is None:
            store.put_token(
                TokenRecord(token_sha256=hash_token(existing), role="admin", description=description, created=format_time(now))
            )
            return existing
        if not refusal_of(record, now):
            return existing
    for record in store.list_tokens():
        if record.description == description:
            _retire(store, record, now)
    token = create_token(store, role="admin", description=description)
    write_admin_token(data_dir.admin_token_path, token)
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there is none."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking a presented token: its grant, or why it grants nothing."""

    record: TokenRecord | None
    refusal: str = ""


UNKNOWN_TOKEN = "the bearer token is not known to this server"


def refusal_of(record: TokenRecord, now: datetime) -> str:
    """Why a stored token no longer grants anything ("" while it does)."""
    if record.revoked:
        return f"the bearer token was revoked at {record.revoked}"
    expires = parse_time(record.expires)
    if record.expires and (expires is None or now >= expires):
        return f"the bearer token expired at {record.expires}"
    return ""


def check_token(store: Store, token: str, *, now: datetime | None = None) -> TokenCheck:
    """The grant of `token` if it is known, not revoked and not expired; records its use."""
    digest = hash_token(token)
    record = store.find_token(digest)
    if record is None or not hmac.compare_digest(record.token_sha256, digest):
        return TokenCheck(None, UNKNOWN_TOKEN)
    when = now or utc_now()
    refusal = refusal_of(record, when)
    if refusal:
        return TokenCheck(None, refusal)
    last_used = parse_time(record.last_used)
    if last_used is None or when - last_used >= LAST_USED_RESOLUTION:
        store.touch_token(digest, format_time(when))
    return TokenCheck(record)


def authenticate(store: Store, token: str) -> TokenRecord | None:
    """The grant of `token`, or None when the store does not know it, or it was revoked or
    has expired. (The gateway's platform-only paths call this too.)"""
    return check_token(store, token).record
