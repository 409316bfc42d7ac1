"""Fair sharing between callers while a service is saturated: weighted fair queuing by tokens,
with priority classes. The ordering is pure; `ServiceQueues` adds the waking.

When a request finds every endpoint of its service full, it waits (up to the service's
`queueTimeout`) in that service's queue instead of racing every other waiter for the next free
slot. The queue hands slots out by start-time fair queuing (Goyal et al., SFQ): each caller's
flow carries a virtual finish tag; a request's start tag is the larger of the queue's virtual
time and its flow's finish tag, its flow's finish tag then grows by `cost / weight`, and the
waiting request with the smallest start tag goes next. A caller that floods only pushes its own
tags ahead: the others, who sent little, keep small tags and go first, so every backlogged
caller gets its weight's share of the tokens served, whatever the others send.

- **cost** is the request's token estimate (prompt characters / 4 plus the answer it allows),
  so a caller of long prompts gets fewer requests, not more tokens, than one of short ones.
- **flow** is the caller: the key's `laneway.dev/tenant` annotation when its Secret sets one
  (several keys of one tenant share a flow), else the key itself (`anonymous` for no key).
- **priority**: `Critical` is served before any `Standard`, which goes before anything else;
  `Sheddable` never waits: while the service is saturated it is refused with 429 at once (see
  `proxy`). Weights, tenant and priority come from the key's Secret (`keys.Grant`), which only
  the service's owners write; a caller may only lower its own priority (`x-laneway-priority`).

Cost per request: a heap push and pop per priority class (O(log n) in the waiters, not the
callers), and one dict entry per caller seen since the queue was last empty; entries whose tag
fell behind the virtual time are dropped when the map doubles, and all of them when nothing
waits, so thousands of callers cost nothing on the hot path and the map stays as large as the
callers active in the current backlog.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from laneway.api.meta import ObjectKey

Priority = Literal["Critical", "Standard", "Sheddable"]
PRIORITIES: tuple[Priority, ...] = ("Critical", "Standard", "Sheddable")
RANK: Mapping[str, int] = {p: i for i, p in enumerate(PRIORITIES)}
DEFAULT_PRIORITY: Priority = "Standard"
CHARS_PER_TOKEN = 4
DEFAULT_ANSWER_TOKENS = 256
"""The answer a request is assumed to allow when it sets no `max_tokens`."""


def lower(granted: Priority, asked: str | None) -> Priority:
    """The priority a request runs at: what its key was granted, or a lower class the caller
    asked for (`x-laneway-priority`); never a higher one, whatever the header says."""
    if asked is None or asked not in RANK:
        return granted
    return asked if RANK[asked] > RANK[granted] else granted  # type: ignore[return-value]


def token_cost(prompt_chars: int, max_tokens: object) -> float:
    answer = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0 else DEFAULT_ANSWER_TOKENS
    return prompt_chars / CHARS_PER_TOKEN + min(answer, 1 << 20)


@dataclass(eq=False)
class Ticket:
    """One waiting request's place in the queue."""

    flow: str
    priority: Priority
    start: float
    seq: int
    cost: float
    removed: bool = False
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def key(self) -> tuple[float, int]:
        return (self.start, self.seq)


class FairQueue:
    """Start-time fair queuing over flows, one heap per priority class. Pure (no I/O, no clock)."""

    def __init__(self) -> None:
        self.virtual = 0.0
        self._finish: dict[str, float] = {}
        self._heaps: tuple[list[tuple[float, int, Ticket]], ...] = tuple([] for _ in PRIORITIES)
        self._seq = itertools.count()
        self._live = 0
        self._prune_at = 1024

    def __len__(self) -> int:
        """Requests waiting (not yet popped or removed)."""
        return self._live

    @property
    def flows(self) -> int:
        """Callers whose tags the queue still remembers (bounded, see the module)."""
        return len(self._finish)

    def push(self, flow: str, *, cost: float, weight: float = 1.0, priority: Priority = DEFAULT_PRIORITY) -> Ticket:
        start = max(self.virtual, self._finish.get(flow, 0.0))
        self._finish[flow] = start + max(cost, 1.0) / max(weight, 1e-6)
        ticket = Ticket(flow, priority, start, next(self._seq), cost)
        heapq.heappush(self._heaps[RANK[priority]], (start, ticket.seq, ticket))
        self._live += 1
        if len(self._finish) > self._prune_at:
            self._prune()
        return ticket

    def requeue(self, ticket: Ticket) -> None:
        """Put a popped ticket back in its old place (its request found no slot after all); into
        an empty queue it goes at the current virtual time, the history having been dropped."""
        if not self._live:
            ticket.start = self.virtual
        ticket.removed = False
        heapq.heappush(self._heaps[RANK[ticket.priority]], (ticket.start, ticket.seq, ticket))
        self._live += 1

    def pop(self) -> Ticket | None:
        """The next request to serve: the highest priority class first, then the smallest start tag."""
        for heap in self._heaps:
            while heap:
                _, _, ticket = heapq.heappop(heap)
                if ticket.removed:
                    continue
                ticket.removed = True
                self._live -= 1
                self.virtual = max(self.virtual, ticket.start)
                if not self._live:
                    self._idle()
                return ticket
        return None

    def peek_rank(self) -> int | None:
        """The priority rank of the next request, or None when nothing waits."""
        for rank, heap in enumerate(self._heaps):
            while heap and heap[0][2].removed:
                heapq.heappop(heap)
            if heap:
                return rank
        return None

    def remove(self, ticket: Ticket) -> None:
        """A waiting request gave up (timeout, client gone): it leaves the queue (lazily)."""
        if not ticket.removed:
            ticket.removed = True
            self._live -= 1
            if not self._live:
                self._idle()

    def _idle(self) -> None:
        """Nothing waits: no caller is behind another, so the history is dropped (SFQ restarts
        its virtual time after an idle period)."""
        self.virtual = 0.0
        self._finish.clear()
        for heap in self._heaps:
            heap.clear()

    def _prune(self) -> None:
        v = self.virtual
        self._finish = {f: t for f, t in self._finish.items() if t > v}
        self._prune_at = max(1024, 2 * len(self._finish))


class ServiceQueues:
    """One `FairQueue` per saturated service, and the waking: each slot given back wakes the
    head of every service's queue (that head then tries to take a slot; if it still finds none,
    it goes back to its old place)."""

    def __init__(self) -> None:
        self._queues: dict[ObjectKey, FairQueue] = {}

    def queue(self, service: ObjectKey) -> FairQueue:
        q = self._queues.get(service)
        if q is None:
            q = self._queues[service] = FairQueue()
        return q

    def waiting(self, service: ObjectKey) -> int:
        q = self._queues.get(service)
        return len(q) if q is not None else 0

    def head_rank(self, service: ObjectKey) -> int | None:
        q = self._queues.get(service)
        return q.peek_rank() if q is not None else None

    def wake(self) -> None:
        """A slot was given back: wake each service's next request."""
        for q in self._queues.values():
            if len(q):
                t = q.pop()
                if t is not None:
                    t.woken.set()

    def wake_service(self, service: ObjectKey) -> None:
        q = self._queues.get(service)
        if q is not None:
            t = q.pop()
            if t is not None:
                t.woken.set()

    def forget_idle(self, live: set[ObjectKey]) -> None:
        """Drop the queues of services that are gone and have nobody waiting."""
        for key in [k for k, q in self._queues.items() if k not in live and not len(q)]:
            del self._queues[key]
