"""The InferenceTicket controller: checks every row against the live fleet, reports each as a
condition, and once every row passes and the ticket is approved, composes its objects.

Each reconcile:
1. checks the ticket (`laneway.ticket.checks.check_ticket`, a dry run of the real scheduler)
   and writes one condition per row (`ModelRow`, `HardwareRow`, ...) plus `Approved`,
   `Composed`, `Ready`, and `RetirementWarning`/`Retired` when the lifecycle row has a date;
2. if the ticket passes and is approved, composes (`laneway.ticket.compose.compose`) and applies
   the difference: creates what is missing, updates what drifted, deletes what the ticket no
   longer stands for. Every composed object carries a controller ownerReference, so deleting
   the ticket removes them through the garbage collector; the ticket's finalizer
   `laneway.dev/tombstone` first turns its service into a tombstone that answers 410 Gone with
   the ticket's name and owner for the platform's tombstone period (`spec.tickets.tombstonePeriod`
   of the InferenceGateways, 30 days unless set; see `TicketPolicy.tombstone`), then deletes it
   (`laneway.ticket.tombstone`);
3. a failing ticket leaves what runs alone (a bad edit never tears anything down);
4. judges a canary (a ModelDeployment labelled `laneway.dev/canary-for: <ticket>`) against the
   budget when the lifecycle row asks for automatic rollback, and drops its weight to zero;
5. follows the retirement timeline: scaled to zero and answering 410 from the date, deleted
   once the grace period is over. Time comes from `ControlContext.clock`. Retirement does not
   wait for the rows: past its date a ticket whose rows now fail (or that lost its approval)
   still scales what it composed to zero and marks its service retired;
6. honours the rollback target `lifecycle.rollback.toRevision: N`: the deployment runs
   revision N's template (read once from the deployment's history and pinned in the ticket's
   status as `rollback`, since restoring a revision renumbers it) until the field is removed.

Fields the ticket has no row for are left as others set them: the replica count of an
autoscaled deployment (the autoscaler's, kept within the ticket's bounds) and a service's
`breakGlass` switch (`laneway service break-glass`).

It never overwrites an object of the same name that the ticket does not own: it reports
`Composed=False (NameTaken)` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from laneway.api.kinds import (
    InferenceGateway,
    InferenceTicket,
    ModelCache,
    ModelDeployment,
    ModelEndpoint,
    ModelService,
)
from laneway.api.kinds.deployment import ReplicaTemplate
from laneway.api.kinds.ticket import CanaryStatus, LifecycleRow, RollbackPin
from laneway.api.labels import CANARY_LABEL, CANARY_WEIGHT_ANNOTATION, RETIRED_ANNOTATION, TICKET_LABEL
from laneway.api.meta import HasSpec, ObjectKey, Resource, rfc3339
from laneway.api.selectors import Requirement
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import allow_deletion, block_deletion, is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.store.base import AlreadyExists, Conflict, NotFound, Store
from laneway.ticket.approval import approval
from laneway.ticket.canary import CanaryWatch, budget_of, figures_from_status, judge_canary
from laneway.ticket.checks import RowCheck, TicketReport, check_ticket
from laneway.ticket.compose import (
    CANARY_ENTRY,
    Canary,
    Composition,
    CompositionError,
    canary_name,
    compose,
    declared_canary,
    service_name,
)
from laneway.ticket.fleet import FleetSnapshot
from laneway.ticket.policy import TicketPolicy
from laneway.ticket.retirement import (
    BadRetirementDate,
    RetirementRule,
    RetirementState,
    gone_message,
    parse_retire_after,
    retirement_state,
    warning_message,
)
from laneway.ticket.revisions import BadHistory, read_history, with_first_revision
from laneway.ticket.tombstone import (
    TOMBSTONE_FINALIZER,
    day_text,
    deleted_message,
    is_tombstone_of,
    tombstone_of,
    tombstone_until,
)

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Resource)


def _labelled(label: str, ticket: InferenceTicket) -> list[Requirement]:
    """The selector of what carries `label=<ticket name>` (the store filters, not the caller)."""
    return [Requirement(label, "In", (ticket.name,))]


COMPOSED_KINDS: tuple[type[Resource], ...] = (ModelCache, ModelEndpoint, ModelDeployment, ModelService)
CANARY_CHECK_INTERVAL = 15.0
"""How often a watched canary is judged again while nothing else changes (seconds)."""


def rule_of(ticket: InferenceTicket) -> RetirementRule | None:
    life = ticket.spec.lifecycle
    if life is None or life.is_none() or not life.retire_after:
        return None
    try:
        return RetirementRule.of(life.retire_after, warn_before=life.warn_before, grace_period=life.grace_period)
    except (BadRetirementDate, ValueError):
        return None


def held_to_approved_date(ticket: InferenceTicket) -> InferenceTicket:
    """The ticket whose retirement date governs while an edit awaits approval (pure): the
    approved date when it is earlier than the edited one (or the edit removed it), so moving
    `retireAfter` out, or deleting it, never revives a retired service before approval."""
    life_rows = (ticket.status.approved_rows or {}).get("lifecycle")
    approved_date = life_rows.get("retireAfter") if isinstance(life_rows, dict) else None
    if not isinstance(approved_date, str):
        return ticket
    try:
        held = parse_retire_after(approved_date)
    except BadRetirementDate:
        return ticket
    current = rule_of(ticket)
    if current is not None and current.retire_at <= held:
        return ticket
    life = ticket.spec.lifecycle
    row = life if life is not None and not life.is_none() else LifecycleRow()
    spec = ticket.spec.model_copy(update={"lifecycle": row.model_copy(update={"retire_after": approved_date})})
    return ticket.model_copy(update={"spec": spec})


def owned_by(obj: Resource, ticket: InferenceTicket) -> bool:
    return any(ref.uid == ticket.metadata.uid for ref in obj.metadata.owner_references)


def canary_weight(deployment: ModelDeployment) -> int:
    """The canary's share in percent from its annotation, clamped to 1-99 (10 when unreadable)."""
    try:
        value = int(deployment.metadata.annotations.get(CANARY_WEIGHT_ANNOTATION, "10"))
    except ValueError:
        value = 10
    return max(1, min(99, value))


def keep_runtime_fields(desired: Resource, live: Resource) -> Resource:
    """`desired` with the fields the ticket has no row for taken from `live` (pure): an
    autoscaled deployment's replica count (the autoscaler's, clamped into the ticket's bounds)
    and a service's break-glass switch. Without this each reconcile would undo them."""
    if isinstance(desired, ModelDeployment) and isinstance(live, ModelDeployment) and desired.spec.autoscaling is not None:
        bounds = desired.spec.autoscaling
        replicas = max(bounds.min_replicas, min(bounds.max_replicas, live.spec.replicas))
        return desired.model_copy(update={"spec": desired.spec.model_copy(update={"replicas": replicas})})
    if isinstance(desired, ModelService) and isinstance(live, ModelService) and live.spec.break_glass != desired.spec.break_glass:
        return desired.model_copy(update={"spec": desired.spec.model_copy(update={"break_glass": live.spec.break_glass})})
    return desired


def row_conditions(report: TicketReport) -> list[ConditionUpdate]:
    return [
        ConditionUpdate(r.condition_type, "True" if r.passed else "False", r.reason, _condition_message(r)) for r in report.rows
    ]


def _condition_message(r: RowCheck) -> str:
    """The row's message, the blocking reason first, then every supporting fact (none dropped)."""
    return r.message + ("" if not r.details else " (" + "; ".join(r.details) + ")")


class TicketController:
    name = "inferenceticket"
    kind = "InferenceTicket"

    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.store: Store = ctx.store
        self.watches: Mapping[str, KeyMapper] = {
            "ModelDeployment": self._ticket_of,
            "ModelService": self._ticket_of,
            "ModelEndpoint": self._ticket_of,
            "ModelCache": self._ticket_of,
            "InferenceCluster": self._every_ticket,
            "InferenceClass": self._every_ticket,
            "InferenceGateway": self._every_ticket,
        }

    @staticmethod
    def _ticket_of(obj: Resource) -> list[ObjectKey]:
        names = {obj.metadata.labels.get(TICKET_LABEL), obj.metadata.labels.get(CANARY_LABEL)}
        return [ObjectKey(obj.namespace, n) for n in sorted(n for n in names if n)]

    def _every_ticket(self, _: Resource) -> list[ObjectKey]:
        return [t.key for t in self.store.list(InferenceTicket).items]

    async def reconcile(self, key: ObjectKey) -> Result:
        found = self.store.find(InferenceTicket, key)
        now = self.ctx.clock()
        if found is None:
            return self._sweep_tombstones(key, now)
        if is_deleting(found):
            return self._leave_tombstone(found, now)
        ticket = block_deletion(self.store, found, TOMBSTONE_FINALIZER)
        fleet = FleetSnapshot.from_store(self.store)
        policy = TicketPolicy.of(fleet.gateways)
        report = check_ticket(ticket, fleet, now=now)
        verdict = approval(ticket, fleet.gateways)
        approved = verdict.approved
        timeline = ticket if approved else held_to_approved_date(ticket)
        state = retirement_state(rule_of(timeline), now)
        report = self._accept_retirement(report, state)
        blocking = [key for key in report.failing if not (approved and key in verdict.overridden)]

        conditions = row_conditions(report)
        conditions.append(ConditionUpdate("Approved", "True" if approved else "False", verdict.reason, verdict.message))
        extra: dict[str, Any] = {}
        requeue: list[float] = [state.next_change] if state.next_change is not None else []

        applied = False
        if state.phase == "Expired":
            tombstone = self._tombstone(timeline, now, policy)
            keep = {(ModelService.KIND, service_name(timeline))} if tombstone is not None else set()
            deleted = self._delete_children(ticket, keep=keep)
            tail = "its resources were deleted after the grace period"
            if tombstone is not None:
                self._retire_live(timeline)
                requeue.append(tombstone)
                tail += f"; service {service_name(timeline)} answers 410 with its owner's name for {int(tombstone // 86400) + 1} more day(s)"
            conditions.append(ConditionUpdate("Composed", "False", "Retired", self._retired_text(timeline, tail)))
            if deleted:
                log.info("ticket %s retired: deleted %s", ticket.key, ", ".join(deleted))
            extra["composed"] = []
        elif blocking:
            failing = ", ".join(blocking)
            conditions.append(ConditionUpdate("Composed", "False", "RowsFailing", f"not composed while row(s) fail: {failing}; what runs is kept"))
        elif not approved:
            conditions.append(ConditionUpdate("Composed", "False", verdict.reason, verdict.message))
        else:
            canary, watch, canary_conditions, canary_requeue = self._canary(ticket, now, policy)
            conditions += canary_conditions
            if canary_requeue is not None:
                requeue.append(canary_requeue)
            extra["canary"] = watch
            try:
                composition = compose(ticket, classes=fleet.classes, providers=policy.providers, retired=state.phase == "Retired", canary=canary)
            except CompositionError as e:  # the checks passed, so this is a row they do not cover
                conditions.append(ConditionUpdate("Composed", "False", "CannotCompose", str(e)))
            else:
                composition, pin, pin_condition = self._pin_revision(ticket, composition)
                conditions.append(pin_condition)
                extra["rollback"] = pin
                if state.phase == "Retired":
                    composition = self._mark_retired(ticket, composition)
                taken = self._apply(ticket, composition)
                applied = True
                if taken:
                    conditions.append(ConditionUpdate("Composed", "False", "NameTaken", "; ".join(taken)))
                else:
                    conditions.append(ConditionUpdate("Composed", "True", "Composed", ", ".join(f"{o.kind}/{o.name}" for o in composition.objects())))
                extra["composed"] = [f"{o.kind}/{o.name}" for o in composition.objects()]
        if state.phase == "Retired" and not applied:
            self._retire_live(timeline)
        conditions += self._retirement_conditions(timeline, state)
        ready = not blocking and approved and state.phase not in ("Retired", "Expired")
        conditions.append(
            ConditionUpdate("Ready", "True" if ready else "False", "Ready" if ready else "NotReady",
                            "every row passes and the ticket is approved" if ready else "see the row and Approved conditions")
        )
        status_fields: dict[str, Any] = {"approved": ticket.status.approved}
        status_fields.update(extra)
        write_status(self.store, ticket, conditions=conditions, fields=status_fields, now=rfc3339(now))
        return Result(requeue_after=max(1.0, min(requeue))) if requeue else Result()

    # retirement -------------------------------------------------------------------------------

    @staticmethod
    def _accept_retirement(report: TicketReport, state: RetirementState) -> TicketReport:
        """Past its date a ticket's lifecycle row is being honoured, not failing."""
        if state.phase not in ("Retired", "Expired"):
            return report
        rows = tuple(
            RowCheck(r.key, "Pass", "Retired", "the retirement date has passed; the retirement rule is applied")
            if r.key == "lifecycle" and r.reason == "RetirementPast" else r
            for r in report.rows
        )
        return TicketReport(report.ticket, rows, report.notes)

    @staticmethod
    def _owner(ticket: InferenceTicket) -> tuple[str | None, str | None]:
        row = ticket.spec.endpoint
        owner = row.owner if row is not None and not row.is_none() else None
        return (owner.team if owner else None, owner.contact if owner else None)

    def _retired_text(self, ticket: InferenceTicket, tail: str) -> str:
        life = ticket.spec.lifecycle
        date = life.retire_after if life and life.retire_after else "?"
        return f"retired on {date}: {tail}"

    def _retirement_conditions(self, ticket: InferenceTicket, state: RetirementState) -> list[ConditionUpdate]:
        rule = rule_of(ticket)
        if rule is None:
            return []
        team, contact = self._owner(ticket)
        what = f"service {service_name(ticket)}"
        retired = state.phase in ("Retired", "Expired")
        if state.phase == "Warning":
            warning = ConditionUpdate("RetirementWarning", "True", "RetirementSoon",
                                      warning_message(what=what, state=state, date_text=rule.date_text, team=team, contact=contact))
        else:
            warning = ConditionUpdate("RetirementWarning", "False", state.phase,
                                      f"{'retired' if retired else 'retires'} on {rule.date_text}")
        return [
            warning,
            ConditionUpdate("Retired", "True" if retired else "False", state.phase,
                            gone_message(what=what, date_text=rule.date_text, team=team, contact=contact) if retired else f"active until {rule.date_text}"),
        ]

    @staticmethod
    def _tombstone(ticket: InferenceTicket, now: float, policy: TicketPolicy) -> float | None:
        """Seconds the retired service still stands as a tombstone (the platform's period after
        the grace period), or None once it is over."""
        rule = rule_of(ticket)
        if rule is None:
            return None
        left = rule.retire_at + rule.grace + policy.tombstone - now
        return left if left > 0 else None

    def _mark_retired(self, ticket: InferenceTicket, composition: Composition) -> Composition:
        rule = rule_of(ticket)
        team, contact = self._owner(ticket)
        message = gone_message(what=f"service {composition.service.name}", date_text=rule.date_text if rule else "?", team=team, contact=contact)
        meta = composition.service.metadata
        service = composition.service.model_copy(
            update={"metadata": meta.model_copy(update={"annotations": {**meta.annotations, RETIRED_ANNOTATION: message}})}
        )
        return Composition(composition.deployment, service, composition.endpoints, composition.cache, composition.extra)

    def _retire_live(self, ticket: InferenceTicket) -> None:
        """Past the date without a composition to apply (rows failing, not approved): scale the
        deployments the ticket composed to zero and mark its services retired, in place."""
        rule = rule_of(ticket)
        team, contact = self._owner(ticket)
        for obj in self._owned(ticket, ModelDeployment):
            spec = obj.spec
            autoscaling = spec.autoscaling.model_copy(update={"min_replicas": 0, "max_replicas": 0}) if spec.autoscaling else None
            if spec.replicas != 0 or spec.autoscaling != autoscaling:
                self.store.update(obj.model_copy(update={"spec": spec.model_copy(update={"replicas": 0, "autoscaling": autoscaling})}))
                log.info("ticket %s retired: scaled ModelDeployment %s to zero", ticket.key, obj.name)
        for service in self._owned(ticket, ModelService):
            message = gone_message(what=f"service {service.name}", date_text=rule.date_text if rule else "?", team=team, contact=contact)
            if service.metadata.annotations.get(RETIRED_ANNOTATION) != message:
                annotations = {**service.metadata.annotations, RETIRED_ANNOTATION: message}
                self.store.update(service.model_copy(update={"metadata": service.metadata.model_copy(update={"annotations": annotations})}))

    def _owned(self, ticket: InferenceTicket, kind: type[R]) -> list[R]:
        return [
            o for o in self.store.list(kind, namespace=ticket.namespace, selector=_labelled(TICKET_LABEL, ticket)).items
            if owned_by(o, ticket) and not o.metadata.deletion_timestamp
        ]

    # deletion: the service stays a tombstone --------------------------------------------------

    def _leave_tombstone(self, ticket: InferenceTicket, now: float) -> Result:
        """The ticket is being deleted: delete what it composed but its services, which become
        tombstones answering 410 (see `laneway.ticket.tombstone`) for the platform's tombstone
        period, then let the ticket go. The end is written on each tombstone then, so a later
        change of the period applies to the tombstones made after it."""
        policy = TicketPolicy.of(self.store.list(InferenceGateway).items)
        services = self._owned(ticket, ModelService)
        self._delete_children(ticket, keep={(ModelService.KIND, s.name) for s in services})
        team, contact = self._owner(ticket)
        for service in services:
            message = deleted_message(service=service.name, ticket=ticket.name, date_text=day_text(now), team=team, contact=contact)
            left = self._tombstone(ticket, now, policy) if RETIRED_ANNOTATION in service.metadata.annotations else None
            until = now + (min(left, policy.tombstone) if left is not None else policy.tombstone)
            self.store.update(tombstone_of(service, ticket_uid=ticket.metadata.uid or "", message=message, until=until))
            log.info("ticket %s deleted: service %s answers 410 until %s", ticket.key, service.name, rfc3339(until))
        allow_deletion(self.store, ticket, TOMBSTONE_FINALIZER)
        return Result()

    def _sweep_tombstones(self, key: ObjectKey, now: float) -> Result:
        """The ticket is gone: delete its tombstones whose time is over; look again at the next."""
        pending: list[float] = []
        for service in self.store.list(ModelService, namespace=key.namespace, selector=[Requirement(TICKET_LABEL, "In", (key.name,))]).items:
            until = tombstone_until(service)
            if not is_tombstone_of(service, key.name) or until is None or service.metadata.deletion_timestamp:
                continue
            if until > now:
                pending.append(until - now)
                continue
            try:
                self.store.delete(ModelService, service.key, resource_version=service.metadata.resource_version)
                log.info("tombstone of ticket %s: service %s deleted, its time is over", key, service.name)
            except (NotFound, Conflict):
                pending.append(1.0)  # changed meanwhile: look again
        return Result(requeue_after=max(1.0, min(pending))) if pending else Result()

    # rollback target --------------------------------------------------------------------------

    def _pin_revision(self, ticket: InferenceTicket, composition: Composition) -> tuple[Composition, RollbackPin | None, ConditionUpdate]:
        """Apply `lifecycle.rollback.toRevision`: the composed deployment gets that revision's
        template. The template is pinned in the ticket's status on first use, because restoring
        a revision gives it the next number and the old number leaves the history."""
        life = ticket.spec.lifecycle
        wanted = life.rollback.to_revision if life is not None and not life.is_none() and life.rollback is not None else None
        if wanted is None:
            return composition, None, ConditionUpdate("RolledBack", "False", "NoRollbackTarget", "runs the template the rows compose")
        deployment = composition.deployment
        pinned = ticket.status.rollback
        template_doc = pinned.template if pinned is not None and pinned.to_revision == wanted else None
        if template_doc is None:
            template_doc, problem = self._revision_template(ticket, deployment, wanted)
            if template_doc is None:
                return composition, None, ConditionUpdate(
                    "RolledBack", "False", "RevisionNotKept", f"lifecycle.rollback.toRevision {wanted}: {problem}; running the template the rows compose"
                )
        try:
            template = ReplicaTemplate.model_validate(template_doc)
        except ValueError as e:
            return composition, None, ConditionUpdate("RolledBack", "False", "RevisionUnreadable", f"revision {wanted} cannot be restored: {e}")
        restored = deployment.model_copy(update={"spec": deployment.spec.model_copy(update={"template": template})})
        condition = ConditionUpdate(
            "RolledBack", "True", "PinnedToRevision",
            f"ModelDeployment {deployment.name} runs the template of revision {wanted} (lifecycle.rollback.toRevision), "
            "not the engine and hardware rows; remove toRevision to roll forward",
        )
        return (
            Composition(restored, composition.service, composition.endpoints, composition.cache, composition.extra),
            RollbackPin(to_revision=wanted, template=template_doc),
            condition,
        )

    def _revision_template(self, ticket: InferenceTicket, deployment: ModelDeployment, number: int) -> tuple[dict[str, Any] | None, str]:
        """Revision `number`'s template from the live deployment's history, or why there is none."""
        live = self.store.find(ModelDeployment, deployment.key)
        if live is None:
            return None, "the deployment has no history yet"
        if not owned_by(live, ticket):
            return None, "the deployment is not this ticket's"
        try:
            history = read_history(live)
        except BadHistory as e:
            return None, str(e)
        for r in history:
            if r.number == number:
                return r.template, ""
        kept = ", ".join(str(r.number) for r in history) or "none yet"
        return None, f"revision {number} is not kept (kept: {kept}; see laneway rollout history md/{deployment.name})"

    # canary -----------------------------------------------------------------------------------

    def _canary(
        self, ticket: InferenceTicket, now: float, policy: TicketPolicy
    ) -> tuple[Canary | None, CanaryStatus | None, list[ConditionUpdate], float | None]:
        """The canary this reconcile composes and judges: the one the lifecycle row declares,
        else (outside the platform's ticket switch) a deployment labelled `canary-for`."""
        declared = declared_canary(ticket)
        if declared is not None:
            live = self.store.find(ModelDeployment, ObjectKey(ticket.namespace, canary_name(ticket)))
            generation = live.metadata.generation or 0 if live is not None and owned_by(live, ticket) else 0
            return self._judge_canary(ticket, now, canary_name(ticket), declared.weight, generation)
        candidates = [
            d for d in self.store.list(ModelDeployment, namespace=ticket.namespace, selector=_labelled(CANARY_LABEL, ticket)).items
            if not d.metadata.deletion_timestamp
        ]
        if candidates and policy.requires_ticket(ticket.namespace):
            names = ", ".join(sorted(d.name for d in candidates))
            return None, None, [ConditionUpdate(
                "CanaryRolledBack", "False", "UndeclaredCanary",
                f"{names} is labelled as a canary but the ticket does not declare it (lifecycle.canary); it takes no traffic",
            )], None
        if not candidates:
            return None, None, [ConditionUpdate("CanaryRolledBack", "False", "NoCanary", "no canary deployment")], None
        canary_md = sorted(candidates, key=lambda d: d.name)[0]
        return self._judge_canary(ticket, now, canary_md.name, canary_weight(canary_md), canary_md.metadata.generation or 0)

    def _judge_canary(
        self, ticket: InferenceTicket, now: float, name: str, weight: int, generation: int
    ) -> tuple[Canary | None, CanaryStatus | None, list[ConditionUpdate], float | None]:
        budget = budget_of(ticket.spec)
        if budget is None:
            return Canary(name, weight), None, [
                ConditionUpdate("CanaryRolledBack", "False", "RollbackOff", f"canary {name} takes {weight}%; automatic rollback is off")
            ], None
        service = self.store.find(ModelService, ObjectKey(ticket.namespace, service_name(ticket)))
        traffic = (service.status.traffic or []) if service is not None else []
        figures = figures_from_status(traffic, entry=CANARY_ENTRY)
        previous = CanaryWatch.from_status(ticket.status.canary)
        decision = judge_canary(budget, figures, previous, deployment=name, generation=generation, now=now)
        if decision.action == "rollback":
            if previous is None or not previous.rolled_back:
                log.warning("ticket %s: %s; its weight drops to zero", ticket.key, decision.message)
            cond = ConditionUpdate("CanaryRolledBack", "True", "BudgetBreached", decision.message + f"; weight set to 0 (was {weight}%)")
            return Canary(name, 0), decision.watch.status(), [cond], None
        cond = ConditionUpdate("CanaryRolledBack", "False", "WithinBudget", f"{decision.message}; takes {weight}%")
        return Canary(name, weight), decision.watch.status(), [cond], CANARY_CHECK_INTERVAL

    # applying ---------------------------------------------------------------------------------

    def _apply(self, ticket: InferenceTicket, composition: Composition) -> list[str]:
        """Create, update and delete children to match; returns the names held by others."""
        taken: list[str] = []
        keep: set[tuple[str, str]] = set()
        for desired in composition.objects():
            keep.add((desired.kind, desired.name))
            live = self.store.find(type(desired), desired.key)
            if live is None:
                if isinstance(desired, ModelDeployment):  # its first revision goes with the create
                    desired = with_first_revision(desired, now_text=rfc3339(self.ctx.clock()))
                try:
                    self.store.create(desired)
                    log.info("ticket %s created %s %s", ticket.key, desired.kind, desired.name)
                except AlreadyExists:
                    pass  # created since we looked; the next reconcile compares it
                continue
            if isinstance(live, ModelService) and is_tombstone_of(live, ticket.name):
                self.store.update(self._taken_over(desired, live))
                log.info("ticket %s took over the tombstone of service %s", ticket.key, desired.name)
                continue
            if not owned_by(live, ticket):
                taken.append(f"{desired.kind} {desired.name!r} already exists and is not owned by this ticket; rename the ticket's object or delete the other")
                continue
            if live.metadata.deletion_timestamp:
                continue
            merged = self._merged(desired, live)
            if merged is not None:
                self.store.update(merged)
                log.info("ticket %s updated %s %s", ticket.key, desired.kind, desired.name)
        self._delete_children(ticket, keep=keep)
        return taken

    @staticmethod
    def _taken_over(desired: Resource, live: ModelService) -> Resource:
        """The tombstone `live` as the new ticket composes it: its owner, spec, labels and
        annotations (the tombstone's marks gone), under the stored resourceVersion."""
        meta = desired.metadata.model_copy(update={"resource_version": live.metadata.resource_version, "uid": live.metadata.uid})
        return desired.model_copy(update={"metadata": meta})

    @staticmethod
    def _merged(desired: Resource, live: Resource) -> Resource | None:
        """The live object with the desired spec, labels and annotations (keeping annotations other
        controllers own, such as the revision history); None when nothing differs."""
        desired = keep_runtime_fields(desired, live)
        if not isinstance(live, HasSpec) or not isinstance(desired, HasSpec):
            raise TypeError(f"a ticket composes only kinds with a spec, not {live.kind}")
        annotations = {k: v for k, v in live.metadata.annotations.items() if k != RETIRED_ANNOTATION}
        annotations.update(desired.metadata.annotations)
        labels = {**live.metadata.labels, **desired.metadata.labels}
        same = (
            live.spec.wire() == desired.spec.wire()
            and annotations == live.metadata.annotations
            and labels == live.metadata.labels
        )
        if same:
            return None
        meta = live.metadata.model_copy(update={"annotations": annotations, "labels": labels})
        return live.model_copy(update={"metadata": meta, "spec": desired.spec})

    def _delete_children(self, ticket: InferenceTicket, *, keep: set[tuple[str, str]]) -> list[str]:
        deleted = []
        for kind in COMPOSED_KINDS:
            for obj in self.store.list(kind, namespace=ticket.namespace, selector=_labelled(TICKET_LABEL, ticket)).items:
                if not owned_by(obj, ticket):
                    continue
                if (kind.KIND, obj.name) in keep or obj.metadata.deletion_timestamp:
                    continue
                try:
                    self.store.delete(kind, obj.key)
                    deleted.append(f"{kind.KIND}/{obj.name}")
                except NotFound:
                    pass
        return deleted
