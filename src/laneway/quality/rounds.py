"""One probe round's results folded into a service's quality status. Pure.

A round passes for an endpoint when every probe's answer met its expectation; an endpoint's
pass rate is over its last `window` rounds, and it is failing below `minPassRate`. An endpoint
that no longer serves the service drops out of the status; one that serves but was not probed
this round (a paid endpoint over its hourly cap, see `paid`) keeps its entry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from laneway.api.kinds.serving import EndpointQuality, ProbeFailure, QualitySpec, ServiceQuality
from laneway.api.meta import rfc3339

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    passed: bool
    why: str
    answer: str


def fold(
    previous: ServiceQuality | None,
    results: Mapping[str, tuple[str, list[ProbeResult]]],
    spec: QualitySpec,
    *,
    now: float,
    kept: Collection[str] = (),
) -> ServiceQuality:
    """The status after a round: `results` by endpoint name, each with its tier. Endpoints in
    `kept` (serving, but not probed this round) keep their previous entry as it was."""
    before = {e.name: e for e in previous.endpoints} if previous else {}
    out: list[EndpointQuality] = [before[name] for name in kept if name in before and name not in results]
    for name, (tier, probes) in sorted(results.items()):
        old = before.get(name)
        passed = all(p.passed for p in probes)
        recent = [*(old.recent if old else []), passed][-spec.window :]
        rate = sum(recent) / len(recent)
        failure = next((p for p in probes if not p.passed), None)
        last = (
            ProbeFailure(probe=failure.probe, at=rfc3339(now), why=failure.why, answer=failure.answer[:EXCERPT_CHARS])
            if failure
            else (old.last_failure if old else None)
        )
        out.append(
            EndpointQuality(
                name=name, tier=tier, recent=recent, pass_rate=round(rate, 4), failing=rate < spec.min_pass_rate, last_failure=last
            )
        )
    return ServiceQuality(observed_at=rfc3339(now), endpoints=sorted(out, key=lambda e: e.name))


def degraded_message(quality: ServiceQuality) -> str | None:
    """The `QualityDegraded` message naming failing endpoints, or None when none fails."""
    failing = [e for e in quality.endpoints if e.failing]
    if not failing:
        return None
    parts = []
    for e in failing:
        why = f": {e.last_failure.probe}: {e.last_failure.why}" if e.last_failure else ""
        parts.append(f"{e.name} passes {e.pass_rate:.0%}{why}")
    return "; ".join(parts)
