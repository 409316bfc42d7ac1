"""The ticket and rollout controllers against the in-memory store, with a clock the test drives:
conditions per row, approval, composition and ownership, edits, deletion, canary rollback,
revisions, and the retirement timeline."""

from __future__ import annotations

import asyncio
from typing import Any

from ticket_builders import fleet, provider_keys, ticket

from laneway.api.conditions import find_condition
from laneway.api.kinds import InferenceGateway, InferenceTicket, ModelDeployment, ModelEndpoint, ModelService
from laneway.api.labels import REVISION_HISTORY_ANNOTATION, TOMBSTONE_UNTIL_ANNOTATION
from laneway.api.meta import ObjectKey, Resource, rfc3339
from laneway.control.base import ControlContext
from laneway.control.gc import GarbageCollector, uid_key
from laneway.control.rollout import RolloutController
from laneway.control.ticket import TicketController
from laneway.store.base import NotFound
from laneway.store.memory import MemoryStore
from laneway.ticket.approval import approval_record
from laneway.ticket.labels import AUTO_APPROVE_ANNOTATION, CANARY_LABEL, CANARY_WEIGHT_ANNOTATION, RETIRED_ANNOTATION
from laneway.ticket.policy import TicketPolicy
from laneway.ticket.retirement import DAY, parse_retire_after
from laneway.ticket.revisions import read_history, with_first_revision

KEY = ObjectKey("internal-tools", "pr-review")
RETIRE = "2031-01-01"
T_RETIRE = parse_retire_after(RETIRE)
TOMBSTONE = TicketPolicy().tombstone


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def setup(now: float = T_RETIRE - 100 * DAY, **rows: Any) -> tuple[MemoryStore, Clock, TicketController, RolloutController]:
    store = MemoryStore()
    for obj in [*fleet().clusters, *fleet().classes, *fleet().gateways, *provider_keys()]:
        store.create(obj)
        if getattr(obj, "status", None) is not None and obj.kind == "InferenceCluster":
            store.update_status(store.get(obj.kind, obj.key).model_copy(update={"status": obj.status}))
    rows.setdefault("lifecycle", {"revisionHistoryLimit": 5, "rollback": {"onBudgetBreach": True, "window": "5m"},
                                  "retireAfter": RETIRE, "warnBefore": "10d", "gracePeriod": "2d"})
    store.create(ticket(**rows))
    clock = Clock(now)
    ctx = ControlContext(store=store, clock=clock)
    return store, clock, TicketController(ctx), RolloutController(ctx)


def run(controller: Any, key: ObjectKey = KEY) -> Any:
    return asyncio.run(controller.reconcile(key))


def tk(store: MemoryStore) -> InferenceTicket:
    obj = store.get("InferenceTicket", KEY)
    assert isinstance(obj, InferenceTicket)
    return obj


def cond(obj: Resource, type_: str) -> Any:
    c = find_condition(obj.status.conditions, type_)
    assert c is not None, f"{type_} missing on {obj.kind} {obj.name}"
    return c


def approve(store: MemoryStore) -> None:
    t = tk(store)
    record = approval_record(t, by="0123abcd", role="platform", at="2026-01-01T00:00:00Z")
    store.update_status(t.model_copy(update={"status": t.status.model_copy(update=record)}))


def children(store: MemoryStore) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind in ("ModelDeployment", "ModelService", "ModelEndpoint", "ModelCache"):
        out[kind] = [o.name for o in store.list(kind, namespace="internal-tools").items]
    return out


def test_rows_become_conditions_and_nothing_composes_before_approval() -> None:
    store, _, tc, _ = setup()
    run(tc)
    t = tk(store)
    for row in ("ModelRow", "HardwareRow", "ScalingRow", "OverflowRow", "LifecycleRow"):
        assert cond(t, row).status == "True"
    assert cond(t, "Approved").status == "False" and cond(t, "Composed").reason == "AwaitingApproval"
    assert children(store)["ModelDeployment"] == []


def test_failing_row_is_named_and_blocks_composition() -> None:
    store, _, tc, _ = setup(endpoint={"service": "pr-review", "owner": {"team": "tools"}})
    approve(store)
    run(tc)
    t = tk(store)
    assert cond(t, "EndpointRow").status == "False" and cond(t, "EndpointRow").reason == "NoOwnerContact"
    assert "endpoint" in cond(t, "Composed").message
    assert children(store)["ModelDeployment"] == []


def test_approved_ticket_composes_owned_objects_edits_update_and_deletion_removes() -> None:
    store, clock, tc, _ = setup()
    approve(store)
    run(tc)
    assert children(store) == {"ModelDeployment": ["pr-review"], "ModelService": ["pr-review"],
                               "ModelEndpoint": ["pr-review-overflow"], "ModelCache": ["pr-review"]}
    uid = tk(store).metadata.uid
    for kind, names in children(store).items():
        for name in names:
            (ref,) = store.get(kind, ObjectKey("internal-tools", name)).metadata.owner_references
            assert ref.uid == uid and ref.controller
    assert cond(tk(store), "Composed").status == "True"
    run(tc)  # reconciling twice changes nothing
    rv = store.get("ModelDeployment", KEY).metadata.resource_version

    edited = tk(store)
    spec = edited.spec.model_copy(update={
        "scaling": edited.spec.scaling.model_copy(update={"replicas": 1}),  # type: ignore[union-attr]
        "overflow": type(edited.spec.overflow).model_validate({"none": "no provider any more"}),
    })
    store.update(edited.model_copy(update={"spec": spec}))
    run(tc)
    assert store.get("ModelDeployment", KEY).metadata.resource_version == rv  # the edit waits for approval
    assert cond(tk(store), "Approved").reason == "ChangedSinceApproval"
    approve(store)
    run(tc)
    md = store.get("ModelDeployment", KEY)
    assert isinstance(md, ModelDeployment) and md.spec.replicas == 1 and md.metadata.resource_version != rv
    assert children(store)["ModelEndpoint"] == []
    svc = store.get("ModelService", KEY)
    assert isinstance(svc, ModelService) and [e.name for e in svc.spec.endpoints] == ["primary"]

    store.delete("InferenceTicket", KEY)
    assert tk(store).metadata.deletion_timestamp  # held by the tombstone finalizer until the service is one
    run(tc)
    assert store.find(InferenceTicket, KEY) is None
    asyncio.run(GarbageCollector(store).reconcile(uid_key(uid or "")))
    assert children(store) == {"ModelDeployment": [], "ModelService": ["pr-review"], "ModelEndpoint": [], "ModelCache": []}
    tombstone = store.get("ModelService", KEY)
    assert tombstone.metadata.owner_references == []
    assert tombstone.metadata.annotations[RETIRED_ANNOTATION] == (
        "service pr-review was retired on 2030-09-23 when its InferenceTicket 'pr-review' was deleted; "
        "owner: internal-tools (#tools-oncall)"
    )
    # it stands for the default tombstone period (30 days), then the controller deletes it
    clock.now += TOMBSTONE - DAY
    assert run(tc).requeue_after == DAY
    assert children(store)["ModelService"] == ["pr-review"]
    clock.now += DAY
    run(tc)
    assert children(store)["ModelService"] == []


def _platform_tombstone(store: MemoryStore, period: str) -> None:
    """The platform lane sets `spec.tickets.tombstonePeriod` on the example's gateway."""
    gw = store.get("InferenceGateway", ObjectKey("", "ticket-rules"))
    assert isinstance(gw, InferenceGateway)
    tickets = gw.spec.tickets.model_copy(update={"tombstone_period": period})
    store.update(gw.model_copy(update={"spec": gw.spec.model_copy(update={"tickets": tickets})}))


def test_the_platforms_tombstone_period_sets_how_long_a_deleted_tickets_service_answers_410() -> None:
    assert TOMBSTONE == 30 * DAY  # the default
    store, clock, tc, _ = setup()
    _platform_tombstone(store, "7d")
    approve(store)
    run(tc)
    deleted_at = clock.now
    store.delete("InferenceTicket", KEY)
    run(tc)
    tombstone = store.get("ModelService", KEY)
    assert tombstone.metadata.annotations[TOMBSTONE_UNTIL_ANNOTATION] == rfc3339(deleted_at + 7 * DAY)
    # a later change of the period leaves the tombstones already made as they were promised
    _platform_tombstone(store, "90d")
    clock.now = deleted_at + 6 * DAY
    assert run(tc).requeue_after == DAY
    assert children(store)["ModelService"] == ["pr-review"]
    clock.now = deleted_at + 7 * DAY
    run(tc)
    assert children(store)["ModelService"] == []


def test_the_platforms_tombstone_period_follows_an_expired_retirement() -> None:
    store, clock, tc, _ = setup()
    _platform_tombstone(store, "3d")
    approve(store)
    run(tc)
    clock.now = T_RETIRE + 2 * DAY + 1  # the grace period (2d) is over: expired
    run(tc)
    assert children(store)["ModelService"] == ["pr-review"]
    assert "for 3 more day(s)" in cond(tk(store), "Composed").message
    clock.now = T_RETIRE + 2 * DAY + 3 * DAY + 1
    run(tc)
    assert children(store)["ModelService"] == []


def test_a_new_ticket_of_the_same_name_takes_the_tombstone_over() -> None:
    store, clock, tc, _ = setup()
    approve(store)
    run(tc)
    store.delete("InferenceTicket", KEY)
    run(tc)
    assert RETIRED_ANNOTATION in store.get("ModelService", KEY).metadata.annotations
    store.create(ticket(lifecycle={"revisionHistoryLimit": 5, "retireAfter": RETIRE}))
    approve(store)
    run(tc)
    assert cond(tk(store), "Composed").status == "True", cond(tk(store), "Composed").message
    svc = store.get("ModelService", KEY)
    (ref,) = svc.metadata.owner_references
    assert ref.uid == tk(store).metadata.uid
    assert RETIRED_ANNOTATION not in svc.metadata.annotations and TOMBSTONE_UNTIL_ANNOTATION not in svc.metadata.annotations
    clock.now += TOMBSTONE + DAY
    run(tc)
    assert children(store)["ModelService"] == ["pr-review"]  # no longer a tombstone: not swept


def test_namespace_auto_approval_by_the_platform() -> None:
    store, _, tc, _ = setup()
    store.create(InferenceGateway.model_validate({"metadata": {"name": "gw", "annotations": {AUTO_APPROVE_ANNOTATION: "internal-tools"}}}))
    run(tc)
    assert cond(tk(store), "Approved").reason == "AutoApproved"
    assert children(store)["ModelDeployment"] == ["pr-review"]


def test_object_of_the_same_name_not_owned_is_left_alone() -> None:
    store, _, tc, _ = setup()
    svc = ModelService.model_validate({"metadata": {"name": "pr-review", "namespace": "internal-tools"},
                                       "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "x"}}}]}})
    store.create(svc)
    approve(store)
    run(tc)
    assert cond(tk(store), "Composed").reason == "NameTaken"
    kept = store.get("ModelService", KEY)
    assert isinstance(kept, ModelService) and kept.spec.endpoints[0].selector.match_labels == {"app": "x"}


def _set_traffic(store: MemoryStore, p95: float) -> None:
    svc = store.get("ModelService", KEY)
    assert isinstance(svc, ModelService)
    status = svc.status.model_copy(update={"traffic": [{"gateway": "g", "requests": {"Primary": 100}, "errors": 0, "p95LatencySeconds": p95}]})
    store.update_status(svc.model_copy(update={"status": status}))


def test_canary_that_breaks_the_budget_for_a_window_drops_to_zero() -> None:
    store, clock, tc, _ = setup()
    approve(store)
    run(tc)
    base = store.get("ModelDeployment", KEY)
    canary = ModelDeployment.model_validate({
        "metadata": {"name": "pr-review-next", "namespace": "internal-tools",
                     "labels": {CANARY_LABEL: "pr-review"}, "annotations": {CANARY_WEIGHT_ANNOTATION: "25"}},
        "spec": base.spec.model_dump(by_alias=True),  # type: ignore[attr-defined]
    })
    store.create(canary)
    run(tc)
    weights = lambda: {e.name: e.weight for e in store.get("ModelService", KEY).spec.endpoints}  # type: ignore[attr-defined]  # noqa: E731
    assert weights()["canary"] == 25 and weights()["primary"] == 75
    _set_traffic(store, 9.0)  # the budget is 4s
    clock.now += 60
    run(tc)
    assert weights()["canary"] == 25 and cond(tk(store), "CanaryRolledBack").status == "False"
    clock.now += 301
    run(tc)
    assert weights()["canary"] == 0
    rolled = cond(tk(store), "CanaryRolledBack")
    assert rolled.status == "True" and "p95 latency 9000ms" in rolled.message
    _set_traffic(store, 1.0)
    clock.now += 60
    run(tc)
    assert weights()["canary"] == 0  # stays parked until the canary changes


def test_retirement_timeline_of_a_ticket() -> None:
    store, clock, tc, rc = setup()
    approve(store)
    run(tc)
    clock.now = T_RETIRE - 5 * DAY
    run(tc)
    run(rc)
    run(rc)
    assert cond(tk(store), "RetirementWarning").status == "True"
    assert "#tools-oncall" in cond(tk(store), "RetirementWarning").message
    assert cond(store.get("ModelService", KEY), "RetirementWarning").status == "True"
    clock.now = T_RETIRE + 1
    run(tc)
    md = store.get("ModelDeployment", KEY)
    assert isinstance(md, ModelDeployment) and md.spec.replicas == 0
    gone = store.get("ModelService", KEY).metadata.annotations[RETIRED_ANNOTATION]
    assert "internal-tools" in gone and RETIRE in gone
    assert cond(tk(store), "Retired").status == "True" and cond(tk(store), "LifecycleRow").status == "True"
    clock.now = T_RETIRE + 3 * DAY
    run(tc)
    # the service stays a tombstone: the gateway answers 410 with the owner's name, not 404
    assert children(store) == {"ModelDeployment": [], "ModelService": ["pr-review"], "ModelEndpoint": [], "ModelCache": []}
    assert "internal-tools" in store.get("ModelService", KEY).metadata.annotations[RETIRED_ANNOTATION]
    assert cond(tk(store), "Composed").reason == "Retired" and "answers 410" in cond(tk(store), "Composed").message
    clock.now = T_RETIRE + 2 * DAY + TOMBSTONE + 1
    run(tc)
    assert children(store) == {"ModelDeployment": [], "ModelService": [], "ModelEndpoint": [], "ModelCache": []}


def _direct(store: MemoryStore, image: str = "a", retire: str | None = None) -> ModelDeployment:
    doc = {"metadata": {"name": "solo", "namespace": "ns", "annotations": {"laneway.dev/retirement-warning": "3d", "laneway.dev/retirement-grace": "1d"}},
           "spec": {"replicas": 2, "revisionHistoryLimit": 3, "template": {"spec": {"engines": [{"name": "main", "members": [{
               "nodeSelector": {"devices": [{"name": "gpu"}]},
               "template": {"spec": {"containers": [{"name": "engine", "image": image}]}}}]}]}}}}
    if retire:
        doc["spec"]["retireAfter"] = retire
    return ModelDeployment.model_validate(doc)


def test_revisions_are_recorded_per_template_change() -> None:
    store, _clock, _, rc = setup()
    store.create(_direct(store))
    solo = ObjectKey("ns", "solo")
    run(rc, solo)
    run(rc, solo)
    for image in ("b", "c"):
        md = store.get("ModelDeployment", solo)
        spec = _direct(store, image).spec
        store.update(md.model_copy(update={"spec": spec}))
        run(rc, solo)
    scaled = store.get("ModelDeployment", solo)
    store.update(scaled.model_copy(update={"spec": scaled.spec.model_copy(update={"replicas": 5})}))  # type: ignore[attr-defined]
    run(rc, solo)
    history = read_history(store.get("ModelDeployment", solo))  # type: ignore[arg-type]
    assert [r.number for r in history] == [1, 2, 3]
    assert history[-1].change == "container.image: b -> c"


def test_a_deployment_created_with_its_first_revision_is_not_written_again() -> None:
    store, _clock, _, rc = setup()
    created = store.create(with_first_revision(_direct(store), now_text="2030-01-01T00:00:00Z"))
    assert [r.number for r in read_history(created)] == [1]
    run(rc, created.key)
    assert store.get("ModelDeployment", created.key).metadata.resource_version == created.metadata.resource_version
    again = with_first_revision(created, now_text="2030-01-02T00:00:00Z")
    assert again is created  # already recorded: nothing to add
    broken = created.model_copy(update={"metadata": created.metadata.model_copy(update={"annotations": {REVISION_HISTORY_ANNOTATION: "not json"}})})
    assert with_first_revision(broken, now_text="2030-01-02T00:00:00Z") is broken  # the controller reports it, as before


def test_a_ticket_composes_its_deployment_with_the_first_revision() -> None:
    store, _clock, tc, rc = setup(lifecycle={"revisionHistoryLimit": 5})  # no retirement: nothing else to write
    approve(store)
    run(tc)
    deployment = next(iter(store.list(ModelDeployment, namespace=KEY.namespace).items))
    assert [r.number for r in read_history(deployment)] == [1]
    run(rc, deployment.key)
    assert store.get("ModelDeployment", deployment.key).metadata.resource_version == deployment.metadata.resource_version


def test_retirement_timeline_of_a_direct_deployment() -> None:
    store, clock, _, rc = setup()
    store.create(_direct(store, retire=RETIRE))
    svc = ModelService.model_validate({"metadata": {"name": "solo-svc", "namespace": "ns"}, "spec": {
        "owner": {"team": "solo-team", "contact": "solo@example.com"},
        "endpoints": [{"selector": {"matchLabels": {"laneway.dev/deployment": "solo"}}}]}})
    store.create(svc)
    solo = ObjectKey("ns", "solo")
    run(rc, solo)  # records revision 1
    result = run(rc, solo)
    assert result.requeue_after and result.requeue_after > 0
    clock.now = T_RETIRE - 2 * DAY
    run(rc, solo)
    assert cond(store.get("ModelService", ObjectKey("ns", "solo-svc")), "RetirementWarning").status == "True"
    clock.now = T_RETIRE + 60
    run(rc, solo)
    md = store.get("ModelDeployment", solo)
    assert isinstance(md, ModelDeployment) and md.spec.replicas == 0
    message = store.get("ModelService", ObjectKey("ns", "solo-svc")).metadata.annotations[RETIRED_ANNOTATION]
    assert "solo-team (solo@example.com)" in message
    clock.now = T_RETIRE + DAY + 1
    run(rc, solo)
    try:
        store.get("ModelDeployment", solo)
        raise AssertionError("the retired deployment should be deleted after its grace period")
    except NotFound:
        pass


def test_endpoint_of_overflow_is_inside_the_boundary() -> None:
    store, _, tc, _ = setup()
    approve(store)
    run(tc)
    ep = store.get("ModelEndpoint", ObjectKey("internal-tools", "pr-review-overflow"))
    svc = store.get("ModelService", KEY)
    assert isinstance(ep, ModelEndpoint) and isinstance(svc, ModelService)
    assert svc.spec.data_boundary is not None and svc.spec.data_boundary.matches(ep.metadata.labels)
