"""The balancing seam: how a service's requests are spread over its endpoints, by named policy.

A policy is a subclass of `BalancingPolicy` that registers under the name a ModelService uses
in `spec.routing.policy` (the way SkyPilot's load-balancing policies register):

    class PrefixAffinity(BalancingPolicy, name="PrefixAffinity"):
        def choose(self, request, entries, states, *, now, rng, tried): ...

and lives in a module listed in `laneway.gateway.policies` (imported before any name is looked
up, so the API server refuses an unknown name with the full list). The gateway keeps one
instance per service and process, from the first request until the service is deleted or
names another policy, so a policy may remember what it learned (which endpoint holds which
prefix); every call comes from the gateway's one event loop, so it needs no lock.

`choose` is asked once per tier and attempt: it gets the request (`RequestView`, read-only and
lazy), that tier's weighted entries, the live endpoint states (`EndpointView`, read-only) and
the endpoints this request already tried, and returns one `Target` from those entries, or
`Unavailable`. It is called again with the failed endpoint added to `tried` when an attempt is
retried, so a policy that ranks candidates returns the best one not yet tried. The rules every
policy keeps, checked for each registered one by `tests/unit/gateway/test_gateway_policy_conformance.py`:

- the answer is one of the targets of `entries`, never one in `tried`, never one whose state
  says it is not `available(now)` or is `saturated` at its `max_in_flight`;
- with nothing left to choose it is `Unavailable`, with `saturated` true exactly when some
  endpoint was healthy but full (that is what sends a request to Overflow or makes it wait);
- an entry of weight 0 is never in `entries` (the table drops it), and the data boundary was
  applied before: a policy cannot widen where traffic goes, only choose within it;
- randomness comes from `rng` and time from `now`, so the same inputs give the same answer;
- it returns fast and never blocks: it runs on the hot path, for every attempt.
"""

from __future__ import annotations

import abc
import importlib
import random
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from laneway.api.kinds.serving import DEFAULT_ROUTING_POLICY
from laneway.api.meta import ObjectKey
from laneway.gateway.balancer import Unavailable
from laneway.gateway.health import EndpointView
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Entry, Target

POLICY_MODULES = ("laneway.gateway.policies",)
"""Imported before the registry is read: the package whose modules define the policies."""

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
_REGISTRY: dict[str, type[BalancingPolicy]] = {}
_loaded = False

__all__ = [
    "DEFAULT_ROUTING_POLICY",
    "BalancingPolicy",
    "Unavailable",
    "UnknownPolicy",
    "policy_class",
    "policy_names",
]


class UnknownPolicy(ValueError):
    """A name no policy registered under; the message lists the registered ones."""


class BalancingPolicy(abc.ABC):
    """Chooses one endpoint for one attempt of one request. See the module docstring for the
    rules every policy keeps; subclasses register with `name=`."""

    name: ClassVar[str]
    kv_events: ClassVar[bool] = False
    """Whether the gateway should subscribe to the KV-cache events of this policy's endpoints
    (`engine_watch`); only a policy that reads `EndpointView.kv` sets it."""

    def __init_subclass__(cls, *, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is None:
            return  # a base for other policies, not a policy a service can name
        if not _NAME.match(name):
            raise ValueError(f"balancing policy name {name!r} must be CamelCase letters and digits, at most 63")
        known = _REGISTRY.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"balancing policy {name!r} is already registered by {known.__module__}.{known.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls

    @abc.abstractmethod
    def choose(
        self,
        request: RequestView,
        entries: Sequence[Entry],
        states: Mapping[ObjectKey, EndpointView],
        *,
        now: float,
        rng: random.Random,
        tried: Collection[ObjectKey],
    ) -> Target | Unavailable:
        """One target of `entries` for this attempt, or why there is none."""


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in POLICY_MODULES:
            importlib.import_module(module)
        _loaded = True


def policy_names() -> tuple[str, ...]:
    """Every registered policy's name, sorted."""
    _load()
    return tuple(sorted(_REGISTRY))


def policy_class(name: str) -> type[BalancingPolicy]:
    """The policy registered under `name`; `UnknownPolicy` (saying which names exist) if none."""
    _load()
    cls = _REGISTRY.get(name)
    if cls is None:
        raise UnknownPolicy(f"unknown balancing policy {name!r}: use one of {', '.join(policy_names())}")
    return cls
