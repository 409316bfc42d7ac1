"""The quality controller: runs each ModelService's golden-prompt probes on a schedule.

Every `spec.quality.interval` it sends each probe to each endpoint the service resolves that
laneway placed (a replica's engine, at the address laneway itself started), judges the answers
(`quality.expect`), folds the round into `status.quality` (`quality.rounds`) and sets the
`QualityDegraded` condition. The gateway reads `failing` when `eject` is on (see
`gateway/table.py`). Probes go straight to the engine, not through the gateway, so they are
neither metered as a caller's traffic nor limited by the service's rate limit.

What it does not do yet: probe external (Overflow, BreakGlass) endpoints, which would need the
egress policy, the endpoint's credential and a rate cap on paid calls; they are left out of
the status rather than reported as passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from laneway.api.conditions import set_condition
from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.serving import ModelEndpoint, ModelService, QualityProbe
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.economics.occupancy import parse_timestamp
from laneway.gateway.weights import base_url, placed_by_laneway
from laneway.quality.expect import judge
from laneway.quality.rounds import ProbeResult, degraded_message, fold

PROBE_TIMEOUT = 30.0


def _ask(url: str, model: str | None, probe: QualityProbe) -> ProbeResult:
    body: dict[str, object] = {
        "messages": [{"role": "user", "content": probe.prompt}],
        "max_tokens": probe.max_tokens,
        "temperature": 0,
    }
    if model:
        body["model"] = model
    try:
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=PROBE_TIMEOUT)
        if r.status_code != 200:
            return ProbeResult(probe.name, False, f"the endpoint answered {r.status_code}", r.text[:200])
        answer = str(r.json()["choices"][0]["message"]["content"] or "")
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as e:
        return ProbeResult(probe.name, False, f"no usable answer: {type(e).__name__}", "")
    verdict = judge(probe.expectation(), answer)
    return ProbeResult(probe.name, verdict.passed, verdict.why, answer)


class QualityController:
    name = "quality"
    kind = "ModelService"
    watches: Mapping[str, KeyMapper] = {}

    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def reconcile(self, key: ObjectKey) -> Result:
        service = self.store.find(ModelService, key)
        if service is None or service.metadata.deletion_timestamp or service.spec.quality is None:
            return Result()
        spec = service.spec.quality
        interval = parse_duration(spec.interval)
        now = self.ctx.clock()
        current = service.status.quality
        age = now - (parse_timestamp(current.observed_at) or 0.0) if current is not None else interval
        if age < interval:
            return Result(requeue_after=interval - age)
        endpoints = {e.metadata.name: e for e in self.store.list(ModelEndpoint, namespace=key.namespace).items}
        targets: list[tuple[str, str, ModelEndpoint]] = []
        for resolved in service.status.endpoints:
            endpoint = endpoints.get(resolved.name)
            if endpoint is not None and placed_by_laneway(endpoint):
                targets.append((resolved.name, resolved.tier, endpoint))
        model = service.spec.model_names[0] if service.spec.model_names else None

        def run_round() -> dict[str, tuple[str, list[ProbeResult]]]:
            return {
                name: (tier, [_ask(base_url(ep), ep.spec.model or model, p) for p in spec.probes])
                for name, tier, ep in targets
            }

        results = await asyncio.to_thread(run_round)
        quality = fold(current, results, spec, now=self.ctx.clock())
        message = degraded_message(quality)
        fresh = self.store.find(ModelService, key)
        if fresh is None:
            return Result()
        conditions = set_condition(
            list(fresh.status.conditions),
            type="QualityDegraded",
            status="True" if message else "False",
            reason="ProbesFailing" if message else "ProbesPassing",
            message=message or f"{len(quality.endpoints)} endpoint(s) pass their probes",
            observed_generation=fresh.metadata.generation,
        )
        status = fresh.status.model_copy(update={"quality": quality, "conditions": conditions})
        self.store.update_status(fresh.model_copy(update={"status": status}))
        return Result(requeue_after=interval)
