"""A request's life in the proxy as named phases: one `Exchange` per request, one `Attempt` per
endpoint it tries.

The proxy used to carry an attempt as a tuple read by position (`pending[0]` the response,
`pending[3]` the endpoint state); these records name each part and say where the attempt
stands, so the rules the proxy keeps can be read off the code:

- an endpoint's in-flight slot is taken when an attempt starts and given back exactly once,
  when it is `Done` (`Proxy._finish`), whatever path the request takes out;
- a retryable answer (429, 5xx before any body byte) is `Held`, not relayed: if no other
  endpoint can do better it is passed through as it is, otherwise it is dropped and counted as
  a failed attempt;
- once an answer is `Responding`, nothing is retried;
- failover through the tiers: after a connection failure, a timeout or a retryable answer, a
  tier with no other trusted endpoint left (each one tried, ejected or failing) is given up
  (`Exchange.skip`) when a later tier of the service has entries, and the first attempt on a
  tier this request has not tried yet is allowed past the attempt cap and the retry budget
  (at most one per tier, so at most three extra), since it goes somewhere new.

Attempt phases, in order:

    Sending     the slot is taken and the request is on its way; no response headers yet
    Held        headers came with a retryable status; kept in case nothing better turns up
    Responding  the answer is accepted and being relayed to the caller
    Done        the slot is given back

Pure records: the proxy does the I/O and moves them between phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from laneway.api.kinds.serving import Tier
from laneway.api.meta import ObjectKey
from laneway.gateway.fair_queue import DEFAULT_PRIORITY, Priority, Ticket
from laneway.gateway.health import EndpointState
from laneway.gateway.policy import BalancingPolicy
from laneway.gateway.request_view import RequestView
from laneway.gateway.weights import Target

Phase = Literal["Sending", "Held", "Responding", "Done"]


@dataclass(slots=True, eq=False)
class Attempt:
    """One try of one endpoint for one request."""

    target: Target
    tier: Tier
    state: EndpointState
    """The endpoint's live state, whose `in_flight` this attempt counts in until `Done`."""
    response: aiohttp.ClientResponse | None = None
    """The upstream's response, once its headers arrived (`Held` or `Responding`)."""
    phase: Phase = "Sending"

    def hold(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.phase = "Held"

    def accept(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.phase = "Responding"

    @property
    def answered(self) -> aiohttp.ClientResponse:
        """The response of a `Held` or `Responding` attempt."""
        if self.response is None:
            raise RuntimeError(f"attempt on {self.target.name} is {self.phase}: it has no response yet")
        return self.response

    def respond(self) -> aiohttp.ClientResponse:
        """Relay this attempt's answer (a `Held` one too, when nothing better turned up)."""
        response = self.answered
        self.phase = "Responding"
        return response


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request is for fair sharing: its flow (tenant or key), weight and priority class,
    all from the key's Secret (`keys.Grant`), the priority perhaps lowered by the caller."""

    flow: str
    weight: float = 1.0
    priority: Priority = DEFAULT_PRIORITY


@dataclass(slots=True, eq=False)
class Exchange:
    """Everything one request carries from attempt to attempt."""

    view: RequestView
    """The request as the balancing policy sees it (built once, shared by every attempt)."""
    policy: BalancingPolicy
    queue_deadline: float
    """Until when a saturated service may keep the request waiting for a slot."""
    tried: set[ObjectKey] = field(default_factory=set)
    """Endpoints this request was sent to: a retry goes elsewhere."""
    skip: set[Tier] = field(default_factory=set)
    """Tiers given up on (Primary after its `queueTimeout` spilled the request to Overflow)."""
    attempts: int = 0
    tiers: set[Tier] = field(default_factory=set)
    """Tiers this request has sent an attempt to (a first attempt on another is a failover)."""
    held: Attempt | None = None
    """The best failed answer so far (see `Attempt.hold`)."""
    last_error: str = ""
    """What went wrong last, for the message when nothing can answer."""
    caller: Caller | None = None
    """How the request shares a saturated service (see `fair_queue`)."""
    ticket: Ticket | None = None
    """Its place in the service's fair queue once it had to wait (kept, so waiting again after a
    wake-up that found no slot keeps the place)."""

    def start(self, target: Target, tier: Tier, state: EndpointState) -> Attempt:
        """A new attempt on `target`, holding one of its in-flight slots until `Proxy._finish`."""
        self.attempts += 1
        self.tried.add(target.key)
        self.tiers.add(tier)
        state.in_flight += 1
        state.total_requests += 1
        return Attempt(target, tier, state)

    def fails_over(self, tier: Tier) -> bool:
        """Whether an attempt on `tier` would be this request's first there after trying others."""
        return bool(self.tiers) and tier not in self.tiers
