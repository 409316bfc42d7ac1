"""What an agent and the control plane say to each other, as typed records (JSON, camelCase).

    POST /agent/v1/join                                         join token -> machine credential
    POST /agent/v1/clusters/{cluster}/machines/{machine}/heartbeat   reports in, assignments out
    GET  /agent/v1/clusters/{cluster}/machines/{machine}/assignments assignments only

An agent reports ports, never URLs: the server builds each engine's URL from the address the
machine joined with, so a machine can point the gateway at nothing but itself.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints, field_validator

from laneway.api.kinds.platform import InferenceClassSpec
from laneway.api.meta import Model, check_dns1123_label

AGENT_PREFIX = "/agent/v1"
MAX_REPORTS = 256
MAX_ADDRESSES = 64
MAX_MODELS = 16
"""Model names one engine may report (an engine answers to one or a few)."""
MAX_REPORT_BYTES = 16 * 1024
"""What one replica's report may take in the cluster's status, as stored (JSON)."""
MAX_MACHINE_REPORT_BYTES = 256 * 1024
"""What one machine's reports and cache reports together may take in the cluster's status:
every heartbeat rewrites the cluster object, so a compromised machine must not be able to
fill it up to the 4 MiB body limit on each beat."""
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def check_address(value: str) -> str:
    """A bare host (IP address or DNS name) the gateway reaches the machine's engines at.

    Never an address no machine serves from: link-local (169.254.169.254 is a cloud's metadata
    service, which the gateway and the quality probes would then be sent to), multicast,
    unspecified or reserved; a join token in the wrong hands cannot point the fleet there."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        ip = None
    if ip is not None:
        if not ip.is_loopback and (ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved):
            raise ValueError(f"address {value!r} is link-local, multicast, unspecified or reserved, where no machine "
                             "serves from: give the address other machines reach this one at (--address)")
        return value
    if not _HOSTNAME.match(value):
        raise ValueError(f"address {value!r} must be a bare IP address or DNS name (no scheme, port or path)")
    return value


def url_host(address: str) -> str:
    """The address as the host part of a URL (IPv6 in brackets)."""
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address


class JoinRequest(Model):
    machine: str
    cluster: str | None = None
    pool: str | None = None
    address: str
    devices: InferenceClassSpec

    @field_validator("machine")
    @classmethod
    def _machine(cls, v: str) -> str:
        return check_dns1123_label(v, "machine name")

    @field_validator("cluster", "pool")
    @classmethod
    def _names(cls, v: str | None) -> str | None:
        return None if v is None else check_dns1123_label(v, "name")

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        return check_address(v)


class JoinAnswer(Model):
    cluster: str
    machine: str
    pool: str
    credential: str
    heartbeat_seconds: float


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(v: str) -> str:
    """A machine's free text (a reason, a message, an engine's log line) with control characters
    other than newline and tab replaced: it is shown in operators' terminals (`laneway get`,
    `describe`), where an escape sequence would rewrite the screen or the window title."""
    return _CONTROL.sub("\ufffd", v)


def _engine_name(v: str) -> str:
    """An engine's name as its deployment gives it (a DNS label): it becomes part of an
    endpoint's name and a label value, so a report cannot carry anything else."""
    return check_dns1123_label(v, "engine name")


class EngineReport(Model):
    engine: str = Field(max_length=63)
    engine_copy: StrictInt = Field(default=0, ge=0, le=1024)
    port: StrictInt = Field(ge=1, le=65535)
    ready: StrictBool = False
    models: list[Annotated[str, StringConstraints(max_length=253)]] = Field(default_factory=list, max_length=MAX_MODELS)

    _engine = field_validator("engine")(_engine_name)


class MemberReport(Model):
    id: str = Field(max_length=128)
    engine: str = Field(max_length=63)
    phase: Literal["Pending", "Starting", "Running", "Ready", "CrashLoopBackOff", "Stopped"]
    ready: StrictBool = False
    restarts: StrictInt = Field(default=0, ge=0, le=2**31)

    _engine = field_validator("engine")(_engine_name)
    _printable = field_validator("id")(printable)


class ReplicaReport(Model):
    namespace: str = Field(max_length=63)
    name: str = Field(max_length=253)
    uid: str = Field(max_length=64)
    ready: StrictBool = False
    reason: str = Field(default="", max_length=64)
    message: str = Field(default="", max_length=2048)
    addresses: list[EngineReport] = Field(default_factory=list, max_length=MAX_ADDRESSES)
    members: list[MemberReport] = Field(default_factory=list, max_length=MAX_ADDRESSES)

    _printable = field_validator("reason", "message")(printable)


class CacheReport(Model):
    namespace: str = Field(max_length=63)
    name: str = Field(max_length=253)
    uid: str = Field(max_length=64)
    state: Literal["Pending", "Hydrating", "Ready", "Failed"]
    message: str = Field(default="", max_length=2048)
    bytes: StrictInt | None = Field(default=None, ge=0, le=2**63)

    _printable = field_validator("message")(printable)


def _once_each(uids: list[str], what: str) -> None:
    seen: set[str] = set()
    for uid in uids:
        if uid in seen:
            raise ValueError(f"{what} uid {uid!r} is reported twice: an agent reports each {what} it runs once")
        seen.add(uid)


class Heartbeat(Model):
    reports: list[ReplicaReport] = Field(default_factory=list, max_length=MAX_REPORTS)
    caches: list[CacheReport] = Field(default_factory=list, max_length=MAX_REPORTS)

    @field_validator("reports")
    @classmethod
    def _one_report_per_replica(cls, v: list[ReplicaReport]) -> list[ReplicaReport]:
        _once_each([r.uid for r in v], "replica")
        return v

    @field_validator("caches")
    @classmethod
    def _one_report_per_cache(cls, v: list[CacheReport]) -> list[CacheReport]:
        _once_each([c.uid for c in v], "cache")
        return v


class RunOrder(Model):
    """One replica a machine runs: the whole of it (`processes` empty) or the processes named,
    with the `host:port` of leaders on other machines by `<engine>-<copy>`."""

    replica: dict[str, Any]
    processes: list[str] = Field(default_factory=list)
    leader_addresses: dict[str, str] = Field(default_factory=dict)


class Orders(Model):
    """A heartbeat's answer: what this machine runs now (anything else it stops)."""

    cluster: dict[str, Any]
    machine: str
    pool: str
    replicas: list[RunOrder] = Field(default_factory=list)
    caches: list[dict[str, Any]] = Field(default_factory=list)
    """The ModelCaches this machine stages (anything else staged here it removes)."""
    gateways: list[dict[str, Any]] = Field(default_factory=list)
    """The fleet's InferenceGateways, whose egress policy every fetch of a cache obeys."""
    heartbeat_seconds: float
