"""API keys held in Secrets, and who may call which service. Pure.

Two ways to grant a key:

- **per service**: `ModelService.spec.apiKeys` lists Secret keys (in the service's namespace);
  each value is a key that may call that service;
- **per namespace**: every value of a Secret labelled `laneway.dev/gateway-api-key: "true"`
  is a key that may call every service in that Secret's namespace.

A service requires a key when it lists `apiKeys`, when its namespace holds namespace keys, or
when an InferenceGateway's `policy.requireApiKey` is on. Then a missing or unknown key is 401
and a known key without access is 403.

A key belongs to the namespaces of the Secrets that hold it (`Grant.home`) and grants nothing
anywhere else: on a service that requires no key, a key that the service did not grant counts
as no key at all (it is accounted, and rate-limited, as `anonymous`), so a team cannot mint
keys in its own namespace to get a bucket per key on another team's open service. Keys are indexed by their SHA-256, and only a short
fingerprint of that hash (`key_id`) is ever used in metrics, limits or logs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelService
from laneway.api.labels import NAMESPACE_KEY_LABEL
from laneway.api.meta import ObjectKey
from laneway.gateway.errors import GatewayError

ANONYMOUS = "anonymous"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What one key may call."""

    key_id: str
    namespaces: frozenset[str] = frozenset()
    services: frozenset[ObjectKey] = frozenset()

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
    keyed_namespaces: set[str] = set()
    keyed_services: set[ObjectKey] = set()
    problems: dict[ObjectKey, list[str]] = {}

    def add(value: str, *, namespace: str | None = None, service: ObjectKey | None = None) -> None:
        nss, svcs = by_hash.setdefault(fingerprint(value), (set(), set()))
        if namespace is not None:
            nss.add(namespace)
        if service is not None:
            svcs.add(service)

    for secret in secrets.values():
        if secret.metadata.labels.get(NAMESPACE_KEY_LABEL) == "true" and not secret.metadata.deletion_timestamp:
            values = [secret.value(k) for k in secret.data]
            for v in values:
                if v:
                    add(v, namespace=secret.namespace)
            if any(values):
                keyed_namespaces.add(secret.namespace)

    for service in services:
        if not service.spec.api_keys:
            continue
        keyed_services.add(service.key)
        for ref in service.spec.api_keys:
            secret = secrets.get(ObjectKey(service.namespace, ref.name))
            value = secret.value(ref.key) if secret is not None else None
            if not value:
                problems.setdefault(service.key, []).append(f"apiKeys: Secret {ref.name!r} has no key {ref.key!r}")
                continue
            add(value, service=service.key)

    grants = {h: Grant(key_id=h[:12], namespaces=frozenset(n), services=frozenset(s)) for h, (n, s) in by_hash.items()}
    return (
        KeyIndex(
            grants=grants,
            keyed_namespaces=frozenset(keyed_namespaces),
            keyed_services=frozenset(keyed_services),
            require_all=require_all,
        ),
        problems,
    )


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The caller's key: OpenAI clients send `Authorization: Bearer`, Anthropic's send `x-api-key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None
