"""The budget controller: keeps each InferenceGateway's `status.budgets` ledger current.

One per fleet (the manager leads alone), so nothing is counted twice however many gateway
processes write token counts. Every few seconds, for each budget in `spec.budgets`, it reads
the namespace's ModelServices and ModelEndpoints and runs the pure `economics.budget.ledger`;
the gateways read `exhausted` from the status into their routing tables (see
`gateway/table.py`), so the hot path looks at one precomputed flag. Conditions on the
InferenceGateway: `BudgetApproached` (some namespace reached `warnAt` of its limit) and
`BudgetExhausted` (some namespace spent it all), each naming the namespaces.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from laneway.api.conditions import set_condition
from laneway.api.kinds.platform import BudgetStatus, InferenceGateway
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.economics.budget import ledger

log = logging.getLogger(__name__)

BUDGET_INTERVAL = 5.0
"""Seconds between two readings of the token counts (the gateways write theirs every 5 s)."""


def _condition_text(statuses: list[BudgetStatus], flag: str) -> tuple[str, str]:
    hit = [s for s in statuses if getattr(s, flag)]
    if not hit:
        return "False", "every budget has room" if statuses else "no budgets"
    return "True", "; ".join(f"namespace {s.namespace} spent {s.spent:.4f} of {s.limit:g} {s.currency}" for s in hit)


class BudgetController:
    name = "budget"
    kind = "InferenceGateway"
    watches: Mapping[str, KeyMapper] = {}

    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.store = ctx.store

    async def reconcile(self, key: ObjectKey) -> Result:
        gateway = self.store.find(InferenceGateway, key)
        if gateway is None or gateway.metadata.deletion_timestamp:
            return Result()
        if not gateway.spec.budgets and not gateway.status.budgets:
            return Result()
        now = self.ctx.clock()
        previous = {b.namespace: b for b in gateway.status.budgets or []}
        statuses: list[BudgetStatus] = []
        for budget in gateway.spec.budgets:
            ns = budget.namespace
            services = self.store.list(ModelService, namespace=ns).items
            endpoints = {e.metadata.name: e for e in self.store.list(ModelEndpoint, namespace=ns).items}
            statuses.append(ledger(budget, previous.get(ns), services, endpoints, now=now))
        conditions = list(gateway.status.conditions)
        for ctype, flag, reason in (("BudgetApproached", "approached", "Approached"), ("BudgetExhausted", "exhausted", "Exhausted")):
            status, message = _condition_text(statuses, flag)
            conditions = set_condition(
                conditions, type=ctype, status=status, reason=reason if status == "True" else "WithinBudget",  # type: ignore[arg-type]
                message=message, observed_generation=gateway.metadata.generation,
            )
        desired = gateway.status.model_copy(update={"budgets": statuses or None, "conditions": conditions})
        if desired.wire() != gateway.status.wire():
            self.store.update_status(gateway.model_copy(update={"status": desired}))
        return Result(requeue_after=BUDGET_INTERVAL) if gateway.spec.budgets else Result()
