"""The rollout controller: revision history and the retirement timeline of ModelDeployments.

Revisions: each reconcile records the deployment's current template in its history
annotations (`laneway.ticket.revisions.record`); a template change becomes a new numbered
revision with a one-line description of what changed, and at most `revisionHistoryLimit` old
ones are kept. `laneway rollout undo` restores one by writing its template back.

Retirement (`spec.retireAfter`, warning and grace periods from the
`laneway.dev/retirement-warning` / `-grace` annotations, default 14d and 7d): the deployment
and the services that select it carry a `RetirementWarning` condition during the warning
period; from the date the deployment is scaled to zero and those services get the
`laneway.dev/retired` annotation (the gateway answers 410 Gone with its message, which names
the owner); after the grace period the deployment is deleted. A deployment composed by an
InferenceTicket is scaled and deleted by the ticket controller instead (the ticket is its
source of truth), and only gets the conditions here. Time comes from `ControlContext.clock`.

A service shows the retirement of the least retired deployment it routes to: it is Gone only
once every deployment behind it is retired, and every deployment's reconcile reaches the same
verdict, so two deployments behind one service cannot overwrite each other in a loop. A date
that is removed (or a new deployment under a retired one's name) takes the mark back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from laneway.api.kinds import ModelDeployment, ModelService
from laneway.api.labels import (
    DEPLOYMENT_LABEL,
    OWNER_CONTACT_ANNOTATION,
    OWNER_TEAM_ANNOTATION,
    RETIRED_ANNOTATION,
    RETIREMENT_GRACE_ANNOTATION,
    RETIREMENT_WARNING_ANNOTATION,
    TOMBSTONE_UNTIL_ANNOTATION,
)
from laneway.api.meta import ObjectKey, Resource, rfc3339
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import live_object
from laneway.control.status import ConditionUpdate, write_status
from laneway.store.base import Store
from laneway.ticket.retirement import (
    BadRetirementDate,
    RetirementRule,
    RetirementState,
    gone_message,
    retirement_state,
    warning_message,
)
from laneway.ticket.revisions import BadHistory, record

log = logging.getLogger(__name__)


def deployment_rule(deployment: ModelDeployment) -> RetirementRule | None:
    """The deployment's retirement rule, or None without a (readable) date."""
    if not deployment.spec.retire_after:
        return None
    ann = deployment.metadata.annotations
    try:
        return RetirementRule.of(
            deployment.spec.retire_after,
            warn_before=ann.get(RETIREMENT_WARNING_ANNOTATION),
            grace_period=ann.get(RETIREMENT_GRACE_ANNOTATION),
        )
    except (BadRetirementDate, ValueError):
        return None


def composed_by_ticket(deployment: Resource) -> bool:
    return any(ref.kind == "InferenceTicket" and ref.controller for ref in deployment.metadata.owner_references)


def selects_deployment(service: ModelService, deployment: str) -> bool:
    """Whether some entry of the service picks this deployment's endpoints by its label."""
    return any(e.selector.match_labels.get(DEPLOYMENT_LABEL) == deployment for e in service.spec.endpoints)


def owner_of(deployment: ModelDeployment, services: list[ModelService]) -> tuple[str | None, str | None]:
    """The owner (team, contact): the deployment's annotations, else a service's `owner`."""
    ann = deployment.metadata.annotations
    team, contact = ann.get(OWNER_TEAM_ANNOTATION), ann.get(OWNER_CONTACT_ANNOTATION)
    if team:
        return team, contact
    for s in services:
        if s.spec.owner is not None:
            return s.spec.owner.team, s.spec.owner.contact
    return None, None


def retirement_conditions(what: str, rule: RetirementRule, state: RetirementState, team: str | None, contact: str | None) -> list[ConditionUpdate]:
    """The RetirementWarning and Retired conditions for a phase (pure)."""
    retired = state.phase in ("Retired", "Expired")
    if state.phase == "Warning":
        warning = ConditionUpdate("RetirementWarning", "True", "RetirementSoon",
                                  warning_message(what=what, state=state, date_text=rule.date_text, team=team, contact=contact))
    else:
        warning = ConditionUpdate("RetirementWarning", "False", state.phase, f"{'retired' if retired else 'retires'} on {rule.date_text}")
    message = gone_message(what=what, date_text=rule.date_text, team=team, contact=contact) if retired else f"active until {rule.date_text}"
    return [warning, ConditionUpdate("Retired", "True" if retired else "False", state.phase, message)]


_PHASE_ORDER = {"Active": 0, "Warning": 1, "Retired": 2, "Expired": 3}


def _reset_retirement_conditions(store: Store, obj: ModelDeployment | ModelService, *, now: str) -> None:
    """Turn retirement conditions an earlier date set to False (written only when one is True)."""
    live = [c for c in obj.status.conditions if c.type in ("RetirementWarning", "Retired") and c.status == "True"]
    if live:
        write_status(store, obj, conditions=[ConditionUpdate(c.type, "False", "NoRetirement", "no retirement date") for c in live], now=now)


class RolloutController:
    name = "rollout"
    kind = "ModelDeployment"

    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.store: Store = ctx.store
        self.watches: Mapping[str, KeyMapper] = {"ModelService": self._deployments_of}

    @staticmethod
    def _deployments_of(service: Resource) -> list[ObjectKey]:
        if not isinstance(service, ModelService):
            return []
        names = {e.selector.match_labels.get(DEPLOYMENT_LABEL) for e in service.spec.endpoints}
        return [ObjectKey(service.namespace, n) for n in sorted(n for n in names if n)]

    async def reconcile(self, key: ObjectKey) -> Result:
        deployment = live_object(self.store, ModelDeployment, key)
        if deployment is None:
            return Result()
        now = self.ctx.clock()
        if self._record_revision(deployment, now):
            return Result()  # the write queues this key again; continue on fresh state
        rule = deployment_rule(deployment)
        services = [
            s for s in self.store.list(ModelService, namespace=deployment.namespace).items
            if selects_deployment(s, deployment.name)
        ]
        by_ticket = composed_by_ticket(deployment)
        state = retirement_state(rule, now)
        if rule is not None and state.phase == "Expired" and not by_ticket:
            self.store.delete(ModelDeployment, deployment.key)
            log.info("deleted retired ModelDeployment %s: its grace period after %s is over", deployment.key, rule.date_text)
            return Result()
        if rule is not None and state.phase == "Retired" and not by_ticket:
            deployment = self._scale_to_zero(deployment)
        for service in services:
            self._mark_service(service, now)
        if rule is None:
            _reset_retirement_conditions(self.store, deployment, now=rfc3339(now))
            return Result()
        team, contact = owner_of(deployment, services)
        write_status(
            self.store, deployment,
            conditions=retirement_conditions(f"deployment {deployment.name}", rule, state, team, contact),
            now=rfc3339(now),
        )
        return Result(requeue_after=max(1.0, state.next_change)) if state.next_change is not None else Result()

    def _service_retirement(self, service: ModelService, now: float) -> tuple[ModelDeployment, RetirementRule | None, RetirementState] | None:
        """The retirement a service shows: that of the *least* retired deployment it routes to (a
        service is Gone only once every deployment behind it is), ties by the earlier date, then
        name. Every deployment's reconcile computes the same answer, so two deployments behind
        one service never overwrite each other's verdict. None when none of them exists."""
        found = []
        for name in sorted({n for e in service.spec.endpoints if (n := e.selector.match_labels.get(DEPLOYMENT_LABEL))}):
            d = live_object(self.store, ModelDeployment, ObjectKey(service.namespace, name))
            if d is None:
                continue
            rule = deployment_rule(d)
            state = retirement_state(rule, now)
            found.append((_PHASE_ORDER[state.phase], rule.retire_at if rule else float("inf"), d.name, d, rule, state))
        if not found:
            return None
        _, _, _, d, rule, state = min(found, key=lambda f: f[:3])
        return d, rule, state

    def _record_revision(self, deployment: ModelDeployment, now: float) -> bool:
        try:
            update = record(deployment, now_text=rfc3339(now))
        except BadHistory as e:
            log.warning("%s", e)
            return False
        if not update.changed:
            return False
        annotations = {**deployment.metadata.annotations, **update.annotations()}
        self.store.update(deployment.model_copy(update={"metadata": deployment.metadata.model_copy(update={"annotations": annotations})}))
        return True

    def _scale_to_zero(self, deployment: ModelDeployment) -> ModelDeployment:
        spec = deployment.spec
        autoscaling = spec.autoscaling.model_copy(update={"min_replicas": 0, "max_replicas": 0}) if spec.autoscaling else None
        if spec.replicas == 0 and (autoscaling is None or spec.autoscaling == autoscaling):
            return deployment
        stored = self.store.update(deployment.model_copy(update={"spec": spec.model_copy(update={"replicas": 0, "autoscaling": autoscaling})}))
        log.info("scaled retired ModelDeployment %s to zero", deployment.key)
        return stored

    def _mark_service(self, service: ModelService, now: float) -> None:
        if TOMBSTONE_UNTIL_ANNOTATION in service.metadata.annotations:
            return  # a deleted ticket's tombstone: it answers 410 until the ticket controller deletes it
        verdict = self._service_retirement(service, now)
        if verdict is None:
            return  # every deployment behind it is gone: a retired mark stays, so callers still get 410
        deployment, rule, state = verdict
        team, contact = owner_of(deployment, [service])
        retired = rule is not None and state.phase in ("Retired", "Expired")
        if not composed_by_ticket(service):  # a ticket's service gets its annotation from the ticket's composition
            has = service.metadata.annotations.get(RETIRED_ANNOTATION)
            wanted = gone_message(what=f"service {service.name}", date_text=rule.date_text, team=team, contact=contact) if retired and rule else None
            if has != wanted:
                annotations = {k: v for k, v in service.metadata.annotations.items() if k != RETIRED_ANNOTATION}
                if wanted is not None:
                    annotations[RETIRED_ANNOTATION] = wanted
                service = self.store.update(service.model_copy(update={"metadata": service.metadata.model_copy(update={"annotations": annotations})}))
                if wanted is None:
                    log.info("ModelService %s is no longer retired: ModelDeployment %s is active", service.key, deployment.name)
        if rule is None:
            _reset_retirement_conditions(self.store, service, now=rfc3339(now))
        else:
            write_status(
                self.store, service, conditions=retirement_conditions(f"service {service.name}", rule, state, team, contact), now=rfc3339(now)
            )
