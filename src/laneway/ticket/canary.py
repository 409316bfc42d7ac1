"""Automatic canary rollback: when a canary breaks its service's budget for a whole window,
its weight drops to zero.

A canary is a second ModelDeployment (labelled `laneway.dev/canary-for: <ticket>`) that the
ticket's service sends a weighted share of its Primary traffic to. The ticket's lifecycle row
says whether a breach rolls it back (`rollback.onBudgetBreach`), over what window and at what
error rate; the scaling row's latency budget gives the p95 limits.

The decision is a pure function of the figures the gateway's metering writes onto the
ModelService's `status.traffic` (one entry per gateway: requests, errors, p95 latency and time
to first token over its window) and of a small watch record the ticket keeps in its status:
when the canary was first seen, the counters then, and since when it has been in breach.
A breach must hold for the whole window (one bad minute is not a rollback); the error rate is
counted over the requests since the watch began, so old errors never count against it. The
gateway's counters are lifetime counts: when they go back (a restarted gateway) the watch
counts from zero again instead of waiting for them to pass their old value.

Figures of the canary alone are used when the gateway reports them per service entry
(`traffic[].entries.<entry name>`); otherwise the service-wide figures are judged while the
canary takes traffic, which blames the canary for a breach it shares with the primary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.serving import GatewayTraffic
from laneway.api.kinds.ticket import CanaryStatus, InferenceTicketSpec

DEFAULT_WINDOW = "5m"
MIN_REQUESTS = 20
"""Requests since the watch began below which the error rate is not judged (too few to mean anything)."""


@dataclass(frozen=True)
class CanaryBudget:
    window: float
    p95_latency: float | None = None
    p95_ttft: float | None = None
    max_error_rate: float | None = None


def budget_of(spec: InferenceTicketSpec) -> CanaryBudget | None:
    """The ticket's rollback budget, or None when automatic rollback is off."""
    life = spec.lifecycle
    if life is None or life.is_none() or life.rollback is None or not life.rollback.on_budget_breach:
        return None
    latency = spec.scaling.latency_budget if spec.scaling is not None and not spec.scaling.is_none() else None
    return CanaryBudget(
        window=parse_duration(life.rollback.window or DEFAULT_WINDOW),
        p95_latency=parse_duration(latency.p95) if latency and latency.p95 else None,
        p95_ttft=parse_duration(latency.p95_time_to_first_token) if latency and latency.p95_time_to_first_token else None,
        max_error_rate=life.rollback.max_error_rate,
    )


@dataclass(frozen=True)
class TrafficFigures:
    requests: int = 0
    errors: int = 0
    p95_latency: float | None = None
    p95_ttft: float | None = None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _figures(entry: Mapping[str, Any]) -> TrafficFigures:
    """Lifetime totals where the gateway reports them (`requestsTotal`, `errorsTotal`: the
    judge takes differences from its baseline), else the older per-tier counts."""
    requests = entry.get("requests")
    total = sum(int(v) for v in requests.values() if isinstance(v, int)) if isinstance(requests, dict) else int(_num(requests) or 0)
    lifetime = _num(entry.get("requestsTotal"))
    return TrafficFigures(
        requests=int(lifetime) if lifetime is not None else total,
        errors=int(_num(entry.get("errorsTotal" if lifetime is not None else "errors")) or 0),
        p95_latency=_num(entry.get("p95LatencySeconds")),
        p95_ttft=_num(entry.get("p95TimeToFirstTokenSeconds")),
    )


def figures_from_status(traffic: Sequence[GatewayTraffic | Mapping[str, Any]], *, entry: str) -> TrafficFigures:
    """Sum what every gateway reports in a service's `status.traffic` (the worst p95 of any
    gateway counts). Prefers the figures of service entry `entry` where a gateway reports per
    entry. Takes the declared entries or their wire form alike; malformed wire entries (a
    hand-edited status) are skipped."""
    total = TrafficFigures()
    for reported in traffic:
        item = reported.wire() if isinstance(reported, GatewayTraffic) else reported
        if not isinstance(item, Mapping):
            continue
        per_entry = item.get("entries")
        wanted = per_entry.get(entry) if isinstance(per_entry, Mapping) else None
        f = _figures(wanted if isinstance(wanted, Mapping) else item)
        total = TrafficFigures(
            requests=total.requests + f.requests,
            errors=total.errors + f.errors,
            p95_latency=max((v for v in (total.p95_latency, f.p95_latency) if v is not None), default=None),
            p95_ttft=max((v for v in (total.p95_ttft, f.p95_ttft) if v is not None), default=None),
        )
    return total


@dataclass(frozen=True)
class CanaryWatch:
    """What the ticket remembers between reconciles (kept in its status as `canary`)."""

    deployment: str
    generation: int
    since: float
    base_requests: int
    base_errors: int
    breach_since: float | None = None
    rolled_back: bool = False
    reason: str = ""

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "deployment": self.deployment,
            "generation": self.generation,
            "since": self.since,
            "baseRequests": self.base_requests,
            "baseErrors": self.base_errors,
            "rolledBack": self.rolled_back,
        }
        if self.breach_since is not None:
            out["breachSince"] = self.breach_since
        if self.reason:
            out["reason"] = self.reason
        return out

    def status(self) -> CanaryStatus:
        """The watch as the ticket's declared `status.canary`."""
        return CanaryStatus.model_validate(self.wire())

    @classmethod
    def from_status(cls, status: CanaryStatus | None) -> CanaryWatch | None:
        """The watch a previous reconcile left in `status.canary`, or None."""
        return None if status is None else cls.from_wire(status.wire())

    @classmethod
    def from_wire(cls, doc: Any) -> CanaryWatch | None:
        if not isinstance(doc, dict):
            return None
        try:
            return cls(
                deployment=str(doc["deployment"]),
                generation=int(doc["generation"]),
                since=float(doc["since"]),
                base_requests=int(doc.get("baseRequests", 0)),
                base_errors=int(doc.get("baseErrors", 0)),
                breach_since=float(doc["breachSince"]) if doc.get("breachSince") is not None else None,
                rolled_back=bool(doc.get("rolledBack", False)),
                reason=str(doc.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def breaches(budget: CanaryBudget, figures: TrafficFigures, watch: CanaryWatch) -> list[str]:
    """Every way the figures break the budget right now (pure)."""
    out: list[str] = []
    if budget.p95_latency is not None and figures.p95_latency is not None and figures.p95_latency > budget.p95_latency:
        out.append(f"p95 latency {figures.p95_latency * 1000:.0f}ms is over the budget {budget.p95_latency * 1000:.0f}ms")
    if budget.p95_ttft is not None and figures.p95_ttft is not None and figures.p95_ttft > budget.p95_ttft:
        out.append(f"p95 time to first token {figures.p95_ttft * 1000:.0f}ms is over the budget {budget.p95_ttft * 1000:.0f}ms")
    if budget.max_error_rate is not None:
        requests = figures.requests - watch.base_requests
        errors = figures.errors - watch.base_errors
        if requests >= MIN_REQUESTS and errors / requests > budget.max_error_rate:
            out.append(f"error rate {errors / requests:.1%} over {requests} requests is above {budget.max_error_rate:.1%}")
    return out


@dataclass(frozen=True)
class CanaryDecision:
    action: Literal["keep", "rollback"]
    watch: CanaryWatch
    message: str


def judge_canary(
    budget: CanaryBudget,
    figures: TrafficFigures,
    watch: CanaryWatch | None,
    *,
    deployment: str,
    generation: int,
    now: float,
) -> CanaryDecision:
    """Keep the canary, or roll it back (pure). A rolled-back canary stays at zero until its
    template changes (a new generation starts a new watch)."""
    if watch is None or watch.deployment != deployment or watch.generation != generation:
        fresh = CanaryWatch(deployment, generation, now, figures.requests, figures.errors)
        return CanaryDecision("keep", fresh, f"watching canary {deployment} from now")
    if watch.rolled_back:
        return CanaryDecision("rollback", watch, watch.reason)
    if figures.requests < watch.base_requests or figures.errors < watch.base_errors:
        # the gateway's lifetime counters went back (it restarted): everything it counts now
        # came after the watch began, so count from zero rather than never judging again
        watch = replace(watch, base_requests=0, base_errors=0)
    broken = breaches(budget, figures, watch)
    if not broken:
        return CanaryDecision("keep", replace(watch, breach_since=None), f"canary {deployment} is within budget")
    since = watch.breach_since if watch.breach_since is not None else now
    if now - since >= budget.window:
        reason = f"canary {deployment} broke the budget for {now - since:.0f}s (window {budget.window:.0f}s): {'; '.join(broken)}"
        return CanaryDecision("rollback", replace(watch, breach_since=since, rolled_back=True, reason=reason), reason)
    return CanaryDecision(
        "keep", replace(watch, breach_since=since),
        f"canary {deployment} breaks the budget ({'; '.join(broken)}) for {now - since:.0f}s of the {budget.window:.0f}s window",
    )
