"""Host names as a URL carries them, and the patterns the platform writes to match them. Pure.

One spelling rule for every comparison: lower case, no trailing dot, IPv6 without brackets.
A pattern is a name (`api.example.com`), a wildcard over subdomains (`*.example.com`, which
does not match `example.com` itself), or an address literal, each optionally with `:port`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from laneway.redact import redact_url

_NAME = re.compile(r"^(\*\.)?([a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*$")
DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_host(host: str) -> str:
    """The one spelling hosts are compared in."""
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class HostPort:
    """Where a URL points: its host as written (normalised) and its port (the scheme's default when absent)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def host_port(url: str) -> HostPort:
    """The host and port of an http(s) URL. Raises ValueError naming what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{redact_url(url)!r} is not an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{redact_url(url)!r} has an invalid port") from None
    if not parts.hostname:
        raise ValueError(f"{redact_url(url)!r} names no host")
    return HostPort(normal_host(parts.hostname), port or DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class HostPattern:
    """A host (or every subdomain of one, `*.example.com`), optionally on one port."""

    name: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        raw = text.strip()
        if not raw:
            raise ValueError("a host pattern is empty; write a name such as 'api.example.com' or '*.example.com'")
        port: int | None = None
        host = raw
        if raw.startswith("["):
            host, _, rest = raw[1:].partition("]")
            if rest:
                port = _port(rest.removeprefix(":"), raw)
        elif raw.count(":") == 1:
            host, _, text_port = raw.partition(":")
            port = _port(text_port, raw)
        host = normal_host(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _NAME.match(host):
                raise ValueError(
                    f"{raw!r} is not a host pattern: write a DNS name ('api.example.com'), a wildcard over its "
                    "subdomains ('*.example.com') or an address, optionally with ':port'"
                ) from None
        return cls(host, port)

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        host = normal_host(host)
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name

    def __str__(self) -> str:
        shown = f"[{self.name}]" if ":" in self.name and self.port is not None else self.name
        return shown if self.port is None else f"{shown}:{self.port}"


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{raw!r} has an invalid port {text!r}; write a number from 1 to 65535")
    return int(text)
