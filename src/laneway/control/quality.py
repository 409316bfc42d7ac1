"""The quality controller: runs each ModelService's golden-prompt probes on a schedule.

Every `spec.quality.interval` it sends each probe to each endpoint the service resolves, judges
the answers (`quality.expect`), folds the round into `status.quality` (`quality.rounds`) and
sets the `QualityDegraded` condition. The gateway reads `failing` when `eject` is on (see
`gateway/table.py`). Probes go straight to the endpoint, not through the gateway, so they are
neither metered as a caller's traffic nor limited by the service's rate limit.

Two kinds of endpoint, two doors:

- **laneway's own replicas** (`placed_by_laneway`): called at the address laneway started them
  on, with no credential.
- **external endpoints** (the team's Overflow and BreakGlass providers, team-written URLs):
  called only through the platform's egress policy (`laneway.egress.sync_http`: one lookup,
  judged addresses only, redirects not followed), with the key of the endpoint's
  `auth.secretRef` only where its platform writer allows it to go (`gateway.table.resolve_bearers`,
  the gateway's own rule), never any other credential. The calls are paid, so they are capped
  per hour, stop with a spent budget, and their tokens are added to the service's spend
  (`quality.paid`). A call the egress policy refuses sends nothing and fails the probe with
  the policy's reason.

What it does not do: count the tokens of a round whose status write lost three races in a row
with other writers (it logs them); probe an endpoint the gateway does not resolve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from laneway.api.conditions import set_condition
from laneway.api.kinds.common import parse_duration
from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService, QualityProbe, ServiceQuality
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.economics.occupancy import parse_timestamp
from laneway.economics.tokens import Tokens
from laneway.egress import sync_http
from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.gateway.paths import upstream_url
from laneway.gateway.table import resolve_bearers
from laneway.gateway.weights import base_url, placed_by_laneway
from laneway.quality.expect import judge
from laneway.quality.paid import budget_spent, calls_after, plan_paid, with_probe_tokens
from laneway.quality.rounds import ProbeResult, degraded_message, fold
from laneway.store.base import Conflict

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 30.0
WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class Target:
    name: str
    tier: str
    url: str
    model: str | None
    bearer: str | None = None
    refusal: str | None = None
    """Why the endpoint is not called at all (its key may not go there): the probes fail with it."""


@dataclass
class RoundOutcome:
    results: dict[str, tuple[str, list[ProbeResult]]] = field(default_factory=dict)
    spent: dict[str, tuple[str, Tokens]] = field(default_factory=dict)
    paid_calls: int = 0


def _usage(doc: object) -> Tokens:
    usage = doc.get("usage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return Tokens()
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return Tokens(
        prompt if isinstance(prompt, int) and not isinstance(prompt, bool) and prompt > 0 else 0,
        completion if isinstance(completion, int) and not isinstance(completion, bool) and completion > 0 else 0,
    )


def _ask(client: httpx.Client, target: Target, probe: QualityProbe) -> tuple[ProbeResult, Tokens, bool]:
    """One probe call: its result, the tokens the endpoint reports, and whether a request was sent."""
    body: dict[str, object] = {
        "messages": [{"role": "user", "content": probe.prompt}],
        "max_tokens": probe.max_tokens,
        "temperature": 0,
    }
    if target.model:
        body["model"] = target.model
    headers = {"Authorization": f"Bearer {target.bearer}"} if target.bearer else {}
    try:
        r = client.post(upstream_url(target.url, "/v1/chat/completions"), json=body, headers=headers)
    except EgressRefused as e:
        return ProbeResult(probe.name, False, f"not sent: the platform's egress policy refuses it ({e.verdict.message})", ""), Tokens(), False
    except (httpx.HTTPError, OSError) as e:
        return ProbeResult(probe.name, False, f"no usable answer: {type(e).__name__}", ""), Tokens(), True
    try:
        doc = r.json()
    except ValueError:
        doc = None
    tokens = _usage(doc)
    if r.status_code != 200:
        return ProbeResult(probe.name, False, f"the endpoint answered {r.status_code}", r.text[:200]), tokens, True
    try:
        answer = str(doc["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        return ProbeResult(probe.name, False, "no usable answer: not a chat completion", r.text[:200]), tokens, True
    verdict = judge(probe.expectation(), answer)
    return ProbeResult(probe.name, verdict.passed, verdict.why, answer), tokens, True


def run_round(own: list[Target], paid: list[Target], probes: list[QualityProbe], policy: EgressPolicy) -> RoundOutcome:
    """Send every probe to every target (blocking; the controller runs it in a thread)."""
    out = RoundOutcome()
    timeout = httpx.Timeout(PROBE_TIMEOUT)
    with httpx.Client(timeout=timeout, trust_env=False) as direct, \
            sync_http.client(policy, timeout=timeout, follow_redirects=False) as guarded:
        for t in own:
            out.results[t.name] = (t.tier, [_ask(direct, t, p)[0] for p in probes])
        for t in paid:
            if t.refusal is not None:
                out.results[t.name] = (t.tier, [ProbeResult(p.name, False, f"not sent: {t.refusal}", "") for p in probes])
                continue
            results: list[ProbeResult] = []
            spent = Tokens()
            for p in probes:
                result, tokens, sent = _ask(guarded, t, p)
                results.append(result)
                spent += tokens
                out.paid_calls += sent
            out.results[t.name] = (t.tier, results)
            if spent.total:
                out.spent[t.name] = (t.tier, spent)
    return out


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
        model = service.spec.model_names[0] if service.spec.model_names else None
        own: list[Target] = []
        external: list[tuple[str, str, ModelEndpoint]] = []
        for resolved in service.status.endpoints:
            endpoint = endpoints.get(resolved.name)
            if endpoint is None:
                continue
            if placed_by_laneway(endpoint):
                own.append(Target(resolved.name, resolved.tier, base_url(endpoint), endpoint.spec.model or model))
            else:
                external.append((resolved.name, resolved.tier, endpoint))
        gateways = self.store.list(InferenceGateway).items
        plan = plan_paid(
            [name for name, _, _ in external], probes=len(spec.probes), cap=spec.external_calls_per_hour,
            previous=current.paid_calls if current is not None else None,
            budget_spent=budget_spent((b for g in gateways for b in g.status.budgets or []), key.namespace)
            and not service.spec.break_glass,
            now=now,
        )
        paid = self._paid_targets([(n, t, e) for n, t, e in external if n in plan.probe], model)
        outcome = await asyncio.to_thread(run_round, own, paid, list(spec.probes), EgressPolicy.from_gateways(gateways))
        quality = fold(current, outcome.results, spec, now=self.ctx.clock(), kept=list(plan.skipped))
        quality = quality.model_copy(update={
            "paid_calls": calls_after(plan, outcome.paid_calls) if external else None,
            "skipped": dict(plan.skipped) or None,
        })
        if not self._write(key, quality, outcome):
            return Result()
        return Result(requeue_after=interval)

    def _paid_targets(self, external: list[tuple[str, str, ModelEndpoint]], model: str | None) -> list[Target]:
        """External endpoints as targets, each with the key it may be sent (or why not)."""
        if not external:
            return []
        namespace = external[0][2].namespace
        secrets = {s.key: s for s in self.store.list(Secret, namespace=namespace).items}
        bearers, blocked = resolve_bearers([e for _, _, e in external], secrets)
        return [
            Target(name, tier, base_url(e), e.spec.model or model, bearer=bearers.get(e.key), refusal=blocked.get(e.key))
            for name, tier, e in external
        ]

    def _write(self, key: ObjectKey, quality: ServiceQuality, outcome: RoundOutcome) -> bool:
        """Write the round (and add its paid tokens to the spend), re-reading on a lost race:
        the gateways write the same status. False when the service is gone."""
        message = degraded_message(quality)
        for _ in range(WRITE_ATTEMPTS):
            fresh = self.store.find(ModelService, key)
            if fresh is None:
                return False
            conditions = set_condition(
                list(fresh.status.conditions),
                type="QualityDegraded",
                status="True" if message else "False",
                reason="ProbesFailing" if message else "ProbesPassing",
                message=message or f"{len(quality.endpoints)} endpoint(s) pass their probes",
                observed_generation=fresh.metadata.generation,
            )
            traffic = with_probe_tokens(fresh.status.traffic or [], outcome.spent, now=self.ctx.clock())
            status = fresh.status.model_copy(
                update={"quality": quality, "conditions": conditions, "traffic": traffic or fresh.status.traffic}
            )
            try:
                self.store.update_status(fresh.model_copy(update={"status": status}))
                return True
            except Conflict:
                continue
        log.warning("quality round of %s not written after %d tries; its probe tokens are not counted: %s",
                    key, WRITE_ATTEMPTS, {n: t for n, (_, t) in outcome.spent.items()})
        return True
