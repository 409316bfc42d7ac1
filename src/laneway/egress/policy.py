"""The egress decision: may laneway connect to this address, for this host and port? Pure.

`EgressPolicy.decide(host, port, address)` judges one resolved address against the policy
of every InferenceGateway (each must allow it; with none, the default policy applies). In
each gateway's policy, in order:

1. a `deny` rule that matches refuses;
2. an `allow` rule that matches allows (this is how the platform opens a private range or
   one internal host such as its object store);
3. an address that is not globally routable is refused, naming its kind (loopback,
   link-local, private, ...);
4. a public address is allowed unless `allowPublic` is false.

Addresses are judged as what they reach: an IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible
(`::127.0.0.1`), NAT64 (`64:ff9b::7f00:1`) or 6to4 (`2002:7f00:1::`) IPv6 address is judged
as the IPv4 address inside it as well. Odd spellings of an address (`2130706433`,
`0x7f.1`, `0177.0.0.1`, `127.1`) need no rule of their own: the decision is made on the
resolved address, never on the text.

A refusal says which rule refused and what the platform would change. It names the kind of
address a host resolved to, not the address: a team learns nothing about the platform's
internal name space from it (the platform's log has the address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from laneway.api.kinds.platform import EgressRule, GatewayEgress, InferenceGateway
from laneway.egress.hosts import HostPattern, normal_host

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPAT = ipaddress.IPv6Network("::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")


class EgressRefused(OSError):
    """A connection the egress policy refused. An OSError, so every HTTP client treats it as a
    failed connection (retried elsewhere by the gateway, reported by the cache)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str
    """Which rule decided: 'deny[0]', 'allow[2]', 'default (loopback)', 'allowPublic: false', 'public'."""
    message: str = ""


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(normal_host(text).partition("%")[0])
    except ValueError:
        return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and would reach (mapped, compatible, NAT64, 6to4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _COMPAT and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIXTOFOUR:
        return address.sixtofour
    return None


def address_kind(address: Address) -> str | None:
    """Why an address is refused by default (its kind), or None for a public address."""
    inner = embedded_ipv4(address)
    for candidate in (inner, address) if inner is not None else (address,):
        kind = _kind(candidate)
        if kind is not None:
            return kind
    return None


def _kind(a: Address) -> str | None:
    if a.is_unspecified:
        return "unspecified"
    if a.is_loopback:
        return "loopback"
    if a.is_link_local:
        return "link-local (this includes the cloud metadata address)"
    if a.is_multicast:
        return "multicast"
    if a.is_private:
        return "private"
    if not a.is_global:
        return "not globally routable (reserved, shared or documentation range)"
    return None


@dataclass(frozen=True)
class Rule:
    """One `spec.egress` rule, parsed."""

    network: Network | None = None
    host: HostPattern | None = None
    ports: frozenset[int] = frozenset()

    @classmethod
    def from_spec(cls, rule: EgressRule) -> Rule:
        return cls(
            network=ipaddress.ip_network(rule.cidr, strict=False) if rule.cidr is not None else None,
            host=HostPattern.parse(rule.host) if rule.host is not None else None,
            ports=frozenset(rule.ports),
        )

    def matches(self, host: str, port: int, address: Address | None) -> bool:
        if self.ports and port not in self.ports:
            return False
        if self.host is not None:
            return self.host.matches(host, port)
        if self.network is None or address is None:
            return False
        inner = embedded_ipv4(address)
        return any(a.version == self.network.version and a in self.network for a in (address, inner) if a is not None)

    def describe(self) -> str:
        what = f"host {self.host}" if self.host is not None else f"cidr {self.network}"
        return what + (f" ports {sorted(self.ports)}" if self.ports else "")


@dataclass(frozen=True)
class GatewayPolicy:
    """One InferenceGateway's `spec.egress`, parsed ('' names the default when there is none)."""

    gateway: str = ""
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    allow_public: bool = True

    @classmethod
    def from_spec(cls, gateway: str, spec: GatewayEgress) -> GatewayPolicy:
        return cls(
            gateway=gateway,
            allow=tuple(Rule.from_spec(r) for r in spec.allow),
            deny=tuple(Rule.from_spec(r) for r in spec.deny),
            allow_public=spec.allow_public,
        )

    def where(self) -> str:
        if self.gateway:
            return f"spec.egress of InferenceGateway {self.gateway!r}"
        return "spec.egress of an InferenceGateway (there is none yet, so the default policy applies)"

    def decide(self, host: str, port: int, address: Address) -> Verdict:
        target = f"{host}:{port}" if parse_address(host) is None else f"address {host} port {port}"
        for i, rule in enumerate(self.deny):
            if rule.matches(host, port, address):
                return Verdict(False, f"deny[{i}]", f"{target} is refused by the egress policy: deny[{i}] ({rule.describe()}) of {self.where()} matches it")
        for i, rule in enumerate(self.allow):
            if rule.matches(host, port, address):
                return Verdict(True, f"allow[{i}]")
        kind = address_kind(address)
        resolved = "is" if parse_address(host) is not None else "resolves to"
        if kind is not None:
            return Verdict(
                False,
                f"default ({kind.split(' (')[0]})",
                f"{target} is refused by the egress policy: it {resolved} a {kind} address, which laneway refuses unless "
                f"the platform opens it; the platform would add an allow rule for this host or its address range to {self.where()}",
            )
        if not self.allow_public:
            return Verdict(
                False,
                "allowPublic: false",
                f"{target} is refused by the egress policy: {self.where()} allows only the hosts and ranges it lists "
                "(allowPublic is false); the platform would add an allow rule for this host",
            )
        return Verdict(True, "public")


@dataclass(frozen=True)
class EgressPolicy:
    """The fleet's egress policy: every InferenceGateway's, all of which must allow a connection."""

    gateways: tuple[GatewayPolicy, ...] = field(default_factory=lambda: (GatewayPolicy(),))

    @classmethod
    def from_gateways(cls, gateways: Iterable[InferenceGateway]) -> EgressPolicy:
        parsed = tuple(
            GatewayPolicy.from_spec(g.name, g.spec.egress)
            for g in sorted(gateways, key=lambda g: g.name)
            if not g.metadata.deletion_timestamp
        )
        return cls(parsed) if parsed else cls()

    @classmethod
    def from_specs(cls, specs: Sequence[tuple[str, GatewayEgress]]) -> EgressPolicy:
        """From (gateway name, spec.egress) pairs, as a hydration Job receives them."""
        parsed = tuple(GatewayPolicy.from_spec(name, spec) for name, spec in specs)
        return cls(parsed) if parsed else cls()

    def decide(self, host: str, port: int, address: Address) -> Verdict:
        host = normal_host(host)
        last = Verdict(True, "public")
        for gateway in self.gateways:
            last = gateway.decide(host, port, address)
            if not last.allowed:
                return last
        return last

    def pick(self, host: str, port: int, addresses: Sequence[str]) -> list[str]:
        """The resolved addresses laneway may connect to, in the resolver's order.

        Only judged addresses are returned, so a caller that connects to one of them cannot be
        moved elsewhere by a second lookup. Raises EgressRefused with the first refusal when
        none is allowed."""
        allowed: list[str] = []
        first: Verdict | None = None
        for text in addresses:
            address = parse_address(text)
            if address is None:
                continue
            verdict = self.decide(host, port, address)
            if verdict.allowed:
                allowed.append(text)
            elif first is None:
                first = verdict
        if not allowed:
            raise EgressRefused(first or Verdict(False, "unresolved", f"{host}:{port} did not resolve to any address"))
        return allowed

    def precheck(self, host: str, port: int) -> Verdict | None:
        """What can be decided before resolving (an address literal, a host rule): the refusal,
        or None when only the connection can tell. Lets a status name a refusal early."""
        address = parse_address(host)
        if address is not None:
            verdict = self.decide(host, port, address)
            return None if verdict.allowed else verdict
        host = normal_host(host)
        for gateway in self.gateways:
            for i, rule in enumerate(gateway.deny):
                if rule.host is not None and rule.matches(host, port, None):
                    return Verdict(
                        False, f"deny[{i}]",
                        f"{host}:{port} is refused by the egress policy: deny[{i}] ({rule.describe()}) of {gateway.where()} matches it",
                    )
        return None

    def to_specs(self) -> list[dict[str, object]]:
        """The policy as JSON-ready (gateway, spec.egress) pairs, for a hydration Job's environment."""
        out: list[dict[str, object]] = []
        for g in self.gateways:
            if not g.gateway:
                continue
            out.append(
                {
                    "gateway": g.gateway,
                    "egress": {
                        "allowPublic": g.allow_public,
                        "allow": [_rule_doc(r) for r in g.allow],
                        "deny": [_rule_doc(r) for r in g.deny],
                    },
                }
            )
        return out


def _rule_doc(rule: Rule) -> dict[str, object]:
    doc: dict[str, object] = {"host": str(rule.host)} if rule.host is not None else {"cidr": str(rule.network)}
    if rule.ports:
        doc["ports"] = sorted(rule.ports)
    return doc
