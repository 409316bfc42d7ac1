"""Join tokens and machine credentials: how a machine gets into a Machines cluster, and what it
may do once it is in.

Both are token records (`store.TokenRecord`: only the SHA-256 is kept, with an expiry and a
revocation time), in two roles of their own that no API door but the agent's accepts:

- a **join token** (`role: join`, scoped to one cluster) is minted by the platform lane
  (`laneway cluster join-token CLUSTER --ttl 1h`) and exchanged once: the exchange revokes it
  atomically (`Store.revoke_token` says True to one caller only), so a copy taken after its use
  (or two agents racing with one token) gets nothing;
- a **machine credential** (`role: machine`, scoped to `(cluster, machine)`) is what the
  exchange returns. With it the agent reads its own machine's assignments and writes its own
  machine's status; nothing else (`scope_refusal`). `laneway cluster remove-machine` revokes it.

The scope is kept in the record's `namespaces` (`(cluster,)` or `(cluster, machine)`): the
names the grant is limited to, as a team token's namespaces are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from laneway.server.auth import format_time, hash_token, new_token, utc_now
from laneway.store.base import Store, TokenRecord

DEFAULT_JOIN_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class MachineScope:
    cluster: str
    machine: str


def mint_join_token(store: Store, cluster: str, *, ttl: timedelta = DEFAULT_JOIN_TTL, now: datetime | None = None) -> tuple[str, TokenRecord]:
    """A new one-use join token for `cluster`, and its record (the token is shown only now)."""
    created = now or utc_now()
    token = new_token()
    record = TokenRecord(
        token_sha256=hash_token(token), role="join", namespaces=(cluster,),
        description=f"join token of cluster {cluster}", created=format_time(created), expires=format_time(created + ttl),
    )
    store.put_token(record)
    return token, record


def join_cluster(record: TokenRecord) -> str:
    """The cluster a join token admits to."""
    return record.namespaces[0] if record.role == "join" and record.namespaces else ""


def consume(store: Store, record: TokenRecord, *, now: datetime | None = None) -> bool:
    """Use the join token up; True for the one caller that does (revoking is atomic)."""
    return store.revoke_token(record.token_sha256, format_time(now or utc_now()))


def mint_machine_credential(store: Store, scope: MachineScope, *, now: datetime | None = None) -> str:
    token = new_token()
    store.put_token(TokenRecord(
        token_sha256=hash_token(token), role="machine", namespaces=(scope.cluster, scope.machine),
        description=f"machine {scope.machine} of cluster {scope.cluster}", created=format_time(now or utc_now()),
    ))
    return token


def machine_scope(record: TokenRecord) -> MachineScope | None:
    """The machine a credential belongs to; None for any other token."""
    if record.role != "machine" or len(record.namespaces) != 2:
        return None
    return MachineScope(record.namespaces[0], record.namespaces[1])


def scope_refusal(record: TokenRecord, cluster: str, machine: str) -> str:
    """Why this token may not act for `machine` of `cluster` ("" when it may)."""
    scope = machine_scope(record)
    if scope is None:
        return f"a {record.role} token is not a machine credential: agents authenticate with the credential their join returned"
    if scope.cluster != cluster:
        return f"this credential belongs to a machine of cluster {scope.cluster!r}, not {cluster!r}"
    if scope.machine != machine:
        return f"this credential belongs to machine {scope.machine!r}; a machine reads and writes only its own assignments and status"
    return ""


def revoke_machine(store: Store, scope: MachineScope, *, now: datetime | None = None) -> int:
    """Revoke every live credential of this machine; how many were."""
    when = format_time(now or utc_now())
    count = 0
    for record in store.list_tokens():
        if machine_scope(record) == scope and not record.revoked and store.revoke_token(record.token_sha256, when):
            count += 1
    return count
