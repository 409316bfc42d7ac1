"""API keys held in Secrets, and who may call which service. Pure.

Two ways to grant a key:

- **per service**: `ModelService.spec.apiKeys` lists Secret keys (in the service's namespace);
  each value is a key that may call that service;
- **per namespace**: every value of a Secret labelled `laneway.dev/gateway-api-key: "true"`
  is a key that may call every service in that Secret's namespace.

A service requires a key when it lists `apiKeys`, when its namespace holds namespace keys, or
when an InferenceGateway's `policy.requireApiKey` is on. Then a missing or unknown key is 401
and a known key without access is 403.

A key's Secret also says how its requests share a saturated service (see `fair_queue`): the
annotations `laneway.dev/priority` (Critical, Standard, Sheddable), `laneway.dev/tenant` and
`laneway.dev/fair-share-weight`. Only whoever may write Secrets in the namespace sets them,
never the caller; a key held by several Secrets gets the lowest priority and weight among them,
so copying a key into another Secret never raises it.

A key belongs to the namespaces of the Secrets that hold it (`Grant.home`) and grants nothing
anywhere else: on a service that requires no key, a key that the service did not grant counts
as no key at all (it is accounted, and rate-limited, as `anonymous`), so a team cannot mint
keys in its own namespace to get a bucket per key on another team's open service. Keys are indexed by their SHA-256, and only a short
fingerprint of that hash (`key_id`) is ever used in metrics, limits or logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelService
from laneway.api.labels import NAMESPACE_KEY_LABEL, PRIORITY_ANNOTATION, TENANT_ANNOTATION, WEIGHT_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.gateway.errors import GatewayError
from laneway.gateway.fair_queue import DEFAULT_PRIORITY, PRIORITIES, RANK, Priority

ANONYMOUS = "anonymous"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What one key may call."""

    key_id: str
    namespaces: frozenset[str] = frozenset()
    services: frozenset[ObjectKey] = frozenset()
    priority: Priority = DEFAULT_PRIORITY
    tenant: str | None = None
    weight: float = 1.0

    @property
    def flow(self) -> str:
        """Whom this key's requests share a saturated service as: its tenant, else itself."""
        return f"tenant:{self.tenant}" if self.tenant else self.key_id

    def allows(self, service: ObjectKey) -> bool:
        return service.namespace in self.namespaces or service in self.services

    @cached_property
    def home(self) -> frozenset[str]:
        """The namespaces this key belongs to: those of the Secrets that hold it."""
        return self.namespaces | {s.namespace for s in self.services}


@dataclass(frozen=True)
class KeyIndex:
    grants: Mapping[str, Grant] = field(default_factory=dict)
    """sha256 hex of the key -> its grant."""
    keyed_namespaces: frozenset[str] = frozenset()
    keyed_services: frozenset[ObjectKey] = frozenset()
    require_all: bool = False

    def requires_key(self, service: ObjectKey) -> bool:
        return self.require_all or service.namespace in self.keyed_namespaces or service in self.keyed_services

    def identify(self, presented: str | None) -> Grant | None:
        """The grant of a presented key: None when none was presented, `UNKNOWN_KEY` when the
        key is not known (401 only where a key is required: OpenAI's clients always send one)."""
        if not presented:
            return None
        return self.grants.get(fingerprint(presented), UNKNOWN_KEY)

    def authorize(self, service: ObjectKey, grant: Grant | None) -> str:
        """The key_id the request is accounted to, or a 401/403 GatewayError."""
        if grant is not None and grant.allows(service):
            return grant.key_id
        if not self.requires_key(service):
            return ANONYMOUS  # a key this service did not grant is no key here, limits included
        if grant is None:
            raise GatewayError(
                401,
                f"Service {service} requires an API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key').",
                "missing_api_key",
            )
        if grant is UNKNOWN_KEY:
            raise GatewayError(
                401,
                "Incorrect API key provided. Use a key from a Secret listed in the service's spec.apiKeys "
                f"or from a Secret labelled {NAMESPACE_KEY_LABEL}=true in its namespace.",
                "invalid_api_key",
            )
        raise GatewayError(
            403,
            f"This API key may not call service {service}: add its Secret to the service's spec.apiKeys, "
            "or use a key of that namespace.",
            "forbidden",
        )


UNKNOWN_KEY = Grant(key_id="unknown")


def build_key_index(
    services: Iterable[ModelService], secrets: Mapping[ObjectKey, Secret], *, require_all: bool = False
) -> tuple[KeyIndex, dict[ObjectKey, list[str]]]:
    """The key index, and per service the references that could not be resolved (for its status)."""
    by_hash: dict[str, tuple[set[str], set[ObjectKey]]] = {}
    sharing: dict[str, list[_Sharing]] = {}
    keyed_namespaces: set[str] = set()
    keyed_services: set[ObjectKey] = set()
    problems: dict[ObjectKey, list[str]] = {}

    def add(value: str, secret: Secret, *, namespace: str | None = None, service: ObjectKey | None = None) -> None:
        h = fingerprint(value)
        nss, svcs = by_hash.setdefault(h, (set(), set()))
        if namespace is not None:
            nss.add(namespace)
        if service is not None:
            svcs.add(service)
        shared = _sharing(secret)
        sharing.setdefault(h, []).append(shared)
        if shared.problem and service is not None:
            problems.setdefault(service, []).append(shared.problem)

    for secret in secrets.values():
        if secret.metadata.labels.get(NAMESPACE_KEY_LABEL) == "true" and not secret.metadata.deletion_timestamp:
            values = [secret.value(k) for k in secret.data]
            for v in values:
                if v:
                    add(v, secret, namespace=secret.namespace)
            if any(values):
                keyed_namespaces.add(secret.namespace)

    for service in services:
        if not service.spec.api_keys:
            continue
        keyed_services.add(service.key)
        for ref in service.spec.api_keys:
            held = secrets.get(ObjectKey(service.namespace, ref.name))
            value = held.value(ref.key) if held is not None else None
            if held is None or not value:
                problems.setdefault(service.key, []).append(f"apiKeys: Secret {ref.name!r} has no key {ref.key!r}")
                continue
            add(value, held, service=service.key)

    grants = {h: _grant(h, n, s, sharing.get(h, [])) for h, (n, s) in by_hash.items()}
    return (
        KeyIndex(
            grants=grants,
            keyed_namespaces=frozenset(keyed_namespaces),
            keyed_services=frozenset(keyed_services),
            require_all=require_all,
        ),
        problems,
    )


@dataclass(frozen=True)
class _Sharing:
    priority: Priority
    tenant: str | None
    weight: float
    problem: str | None = None


def _sharing(secret: Secret) -> _Sharing:
    """The fair-share annotations of one key Secret; a bad value is reported and left at its default."""
    notes = secret.metadata.annotations
    problems: list[str] = []
    priority: Priority = DEFAULT_PRIORITY
    raw = notes.get(PRIORITY_ANNOTATION)
    if raw is not None:
        if raw in RANK:
            priority = PRIORITIES[RANK[raw]]
        else:
            problems.append(f"{PRIORITY_ANNOTATION} {raw!r} is not one of {', '.join(PRIORITIES)}")
    tenant = notes.get(TENANT_ANNOTATION) or None
    if tenant is not None and len(tenant) > 63:
        problems.append(f"{TENANT_ANNOTATION} is longer than 63 characters")
        tenant = None
    weight = 1.0
    raw_weight = notes.get(WEIGHT_ANNOTATION)
    if raw_weight is not None:
        try:
            weight = float(raw_weight)
            if not 1.0 <= weight <= 1000.0:
                raise ValueError
        except ValueError:
            problems.append(f"{WEIGHT_ANNOTATION} {raw_weight!r} is not a number from 1 to 1000")
            weight = 1.0
    problem = f"Secret {secret.name!r}: " + "; ".join(problems) + " (using the default)" if problems else None
    return _Sharing(priority, tenant, weight, problem)


def _grant(h: str, namespaces: set[str], services: set[ObjectKey], sharing: list[_Sharing]) -> Grant:
    """One key's grant: the lowest priority and weight of the Secrets holding it, and a tenant
    only when they agree on one."""
    if not sharing:
        return Grant(key_id=h[:12], namespaces=frozenset(namespaces), services=frozenset(services))
    priority = max((s.priority for s in sharing), key=lambda p: RANK[p])
    tenants = {s.tenant for s in sharing}
    return Grant(
        key_id=h[:12], namespaces=frozenset(namespaces), services=frozenset(services), priority=priority,
        tenant=tenants.pop() if len(tenants) == 1 else None, weight=min(s.weight for s in sharing),
    )


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The caller's key: OpenAI clients send `Authorization: Bearer`, Anthropic's send `x-api-key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None
