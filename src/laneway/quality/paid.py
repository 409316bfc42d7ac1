"""Probes on paid (external) endpoints: which may be called this round, and where their tokens
are counted. Pure.

A probe on an Overflow or BreakGlass provider costs money, so:

- **Capped per hour**: at most `externalCallsPerHour` calls a service's probes make to its
  external endpoints in one clock hour (from the first round of the hour), over all of them. A
  round probes an external endpoint with all its probes or not at all: endpoints, by name, are
  taken while the round's calls still fit; the others are skipped and say so.
- **Stopped with the budget**: a namespace whose budget for external providers is spent
  (`BudgetExhausted`) gets no paid probe calls, unless the service's break-glass is on, the
  same rule that stops its paid overflow.
- **Counted in spend**: the tokens the providers report are added, per endpoint with its tier,
  to an entry of the service's `status.traffic` named `PROBES_ENTRY`, shaped like a gateway's
  (token totals since `since`). The economics and the budget ledger read every entry, so they
  price probe tokens at the endpoint's `pricing` like callers' tokens, and count each once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from laneway.api.kinds.platform import BudgetStatus
from laneway.api.kinds.serving import EndpointTokens, GatewayTraffic, PaidProbeCalls
from laneway.api.meta import rfc3339
from laneway.economics.occupancy import parse_timestamp
from laneway.economics.tokens import Tokens

PROBES_ENTRY = "laneway-quality-probes"
"""The `status.traffic` entry of probe calls to external endpoints (no gateway has this
identity: a gateway's is `host-port`)."""
HOUR = 3600.0


@dataclass(frozen=True)
class PaidRound:
    """What this round may call: the endpoints to probe, those skipped and why, and the hour's count."""

    probe: tuple[str, ...]
    skipped: Mapping[str, str]
    period_start: float
    used_before: int


def plan_paid(
    endpoints: Sequence[str],
    *,
    probes: int,
    cap: int,
    previous: PaidProbeCalls | None,
    budget_spent: bool,
    now: float,
) -> PaidRound:
    """Which external `endpoints` this round probes with its `probes` calls each."""
    start = parse_timestamp(previous.period_start) if previous is not None else None
    if start is None or not start <= now < start + HOUR:
        start, used = now, 0
    else:
        used = previous.calls if previous is not None else 0
    if budget_spent:
        why = "the namespace's budget for external providers is spent (break-glass is off)"
        return PaidRound((), {name: why for name in endpoints}, start, used)
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    left = cap - used
    for name in sorted(endpoints):
        if probes <= left:
            chosen.append(name)
            left -= probes
        else:
            skipped[name] = (
                f"externalCallsPerHour {cap} reached ({cap - left} call(s) this hour; a round needs {probes} per endpoint)"
                if cap else "externalCallsPerHour is 0: external endpoints are not probed"
            )
    return PaidRound(tuple(chosen), skipped, start, used)


def calls_after(round_: PaidRound, made: int) -> PaidProbeCalls:
    """The hour's count once this round's `made` calls are added."""
    return PaidProbeCalls(period_start=rfc3339(round_.period_start), calls=round_.used_before + made)


def budget_spent(budgets: Iterable[BudgetStatus], namespace: str) -> bool:
    """Whether some InferenceGateway's ledger says `namespace` has spent its budget."""
    return any(b.namespace == namespace and b.exhausted for b in budgets)


def with_probe_tokens(
    traffic: Sequence[GatewayTraffic], spent: Mapping[str, tuple[str, Tokens]], *, now: float
) -> list[GatewayTraffic]:
    """`traffic` with `spent` (endpoint -> tier, tokens) added to the probes' entry (made with
    `since` = now the first time). Totals only grow; the other entries are left alone."""
    if not any(t.total for _, t in spent.values()):
        return list(traffic)
    current = next((t for t in traffic if t.gateway == PROBES_ENTRY), None)
    tokens = dict(current.tokens or {}) if current is not None else {}
    for name, (tier, add) in spent.items():
        before = tokens.get(name)
        tokens[name] = EndpointTokens(
            tier=tier,
            prompt=(before.prompt if before else 0) + add.prompt,
            completion=(before.completion if before else 0) + add.completion,
        )
    since = current.since if current is not None and current.since else rfc3339(now)
    entry = GatewayTraffic(gateway=PROBES_ENTRY, since=since, tokens=dict(sorted(tokens.items())))
    return sorted([*(t for t in traffic if t.gateway != PROBES_ENTRY), entry], key=lambda t: t.gateway)
