"""Resolve a host once and keep only the addresses the policy allows (blocking; for threads).

The async connectors (`aio`) judge what aiohttp's own resolver returns; this is the same for
the blocking clients (httpx, urllib3). Both hand the connection only judged addresses.
"""

from __future__ import annotations

import socket

from laneway.egress.policy import EgressPolicy, EgressRefused, Verdict

UNRESOLVED_RULE = "unresolved"
"""The rule an EgressRefused names when the system resolver has no address for the host: no
decision of the policy, a name or network that does not work (yet)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the system resolver's order, once each."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EgressRefused(Verdict(False, UNRESOLVED_RULE, f"{host}:{port} could not be resolved ({exc.strerror})")) from None
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


def allowed_addresses(policy: EgressPolicy, host: str, port: int) -> list[str]:
    """Resolve `host` and return the addresses laneway may connect to; EgressRefused if none."""
    return policy.pick(host, port, resolve(host, port))


def connect(policy: EgressPolicy, host: str, port: int, *, timeout: float | None,
            source_address: tuple[str, int] | None = None,
            socket_options: list[tuple[int, int, int]] | None = None) -> socket.socket:
    """A TCP connection to one of the allowed addresses of `host` (tried in order)."""
    last: OSError | None = None
    for address in allowed_addresses(policy, host, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for level, name, value in socket_options or ():
                sock.setsockopt(level, name, value)
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect((address, port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    assert last is not None, "allowed_addresses returns at least one address"
    raise last
