"""Edges of the ticket controller found in review: fields other parts own (the autoscaler's
replica count, the break-glass switch) survive a reconcile, retirement does not wait for the
rows, and `lifecycle.rollback.toRevision` pins the deployment to an old template."""

from __future__ import annotations

import asyncio
from typing import Any

from ticket_builders import fleet, provider_keys, ticket

from laneway.api.conditions import find_condition
from laneway.api.kinds import InferenceTicket, ModelDeployment, ModelService
from laneway.api.meta import ObjectKey, Resource
from laneway.control.base import ControlContext
from laneway.control.rollout import RolloutController
from laneway.control.ticket import TicketController
from laneway.store.memory import MemoryStore
from laneway.ticket.approval import approval_record
from laneway.ticket.labels import RETIRED_ANNOTATION
from laneway.ticket.retirement import DAY, parse_retire_after
from laneway.ticket.revisions import read_history

KEY = ObjectKey("internal-tools", "pr-review")
RETIRE = "2031-01-01"
T_RETIRE = parse_retire_after(RETIRE)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def setup(**rows: Any) -> tuple[MemoryStore, Clock, TicketController, RolloutController]:
    store = MemoryStore()
    for obj in [*fleet().clusters, *fleet().classes, *fleet().gateways, *provider_keys()]:
        store.create(obj)
        if obj.kind == "InferenceCluster":
            store.update_status(store.get(obj.kind, obj.key).model_copy(update={"status": obj.status}))  # type: ignore[attr-defined]
    rows.setdefault("lifecycle", {"revisionHistoryLimit": 5, "retireAfter": RETIRE, "warnBefore": "10d", "gracePeriod": "2d"})
    store.create(ticket(**rows))
    approve(store)
    clock = Clock(T_RETIRE - 100 * DAY)
    ctx = ControlContext(store=store, clock=clock)
    return store, clock, TicketController(ctx), RolloutController(ctx)


def run(controller: Any, key: ObjectKey = KEY) -> Any:
    return asyncio.run(controller.reconcile(key))


def get(store: MemoryStore, kind: str) -> Any:
    return store.get(kind, KEY)


def cond(obj: Resource, type_: str) -> Any:
    c = find_condition(obj.status.conditions, type_)
    assert c is not None, f"{type_} missing on {obj.kind} {obj.name}"
    return c


def approve(store: MemoryStore) -> None:
    """Record an approval of the ticket as it stands, as the API server would."""
    t = get(store, "InferenceTicket")
    assert isinstance(t, InferenceTicket)
    record = approval_record(t, by="0123abcd", role="platform", at="2026-01-01T00:00:00Z")
    store.update_status(t.model_copy(update={"status": t.status.model_copy(update=record)}))


def edit_ticket(store: MemoryStore, **rows: Any) -> None:
    t = get(store, "InferenceTicket")
    assert isinstance(t, InferenceTicket)
    doc = t.spec.model_dump(by_alias=True, exclude_none=True)
    for key, value in rows.items():
        doc[key] = value
    store.update(t.model_copy(update={"spec": type(t.spec).model_validate(doc)}))


def test_autoscaler_replica_count_survives_and_stays_within_the_ticket_bounds() -> None:
    store, _, tc, _ = setup(scaling={"minReplicas": 1, "maxReplicas": 4, "peakConcurrency": 40, "latencyBudget": {"p95": "4s"}})
    run(tc)
    md = get(store, "ModelDeployment")
    assert md.spec.replicas == 1 and md.spec.autoscaling.max_replicas == 4
    store.update(md.model_copy(update={"spec": md.spec.model_copy(update={"replicas": 3})}))  # what the autoscaler writes
    run(tc)
    assert get(store, "ModelDeployment").spec.replicas == 3
    edit_ticket(store, scaling={"minReplicas": 1, "maxReplicas": 2, "peakConcurrency": 40, "latencyBudget": {"p95": "4s"}})
    run(tc)
    assert get(store, "ModelDeployment").spec.autoscaling.max_replicas == 4  # a new maximum waits for approval
    approve(store)
    run(tc)
    md = get(store, "ModelDeployment")
    assert md.spec.replicas == 2 and md.spec.autoscaling.max_replicas == 2  # clamped into the new bounds


def test_break_glass_switch_on_a_composed_service_is_kept() -> None:
    store, _, tc, _ = setup()
    run(tc)
    svc = get(store, "ModelService")
    store.update(svc.model_copy(update={"spec": svc.spec.model_copy(update={"break_glass": True})}))
    run(tc)
    assert get(store, "ModelService").spec.break_glass is True


def test_retirement_scales_to_zero_even_when_a_row_fails_after_the_date() -> None:
    store, clock, tc, _ = setup()
    run(tc)
    assert get(store, "ModelDeployment").spec.replicas == 2
    edit_ticket(store, endpoint={"service": "pr-review", "owner": {"team": "internal-tools"}})  # no contact: the row fails
    clock.now = T_RETIRE + 60
    run(tc)
    t = get(store, "InferenceTicket")
    assert cond(t, "EndpointRow").status == "False" and cond(t, "Retired").status == "True"
    assert get(store, "ModelDeployment").spec.replicas == 0
    assert RETIRE in get(store, "ModelService").metadata.annotations[RETIRED_ANNOTATION]
    assert cond(t, "RetirementWarning").message == f"retired on {RETIRE}"


def _image(store: MemoryStore) -> str:
    md = get(store, "ModelDeployment")
    assert isinstance(md, ModelDeployment)
    return md.spec.template.spec.engines[0].members[0].container.image


def test_to_revision_pins_the_deployment_to_an_old_template_until_removed() -> None:
    store, _, tc, rc = setup()
    run(tc)
    run(rc)  # revision 1: v0.23.0
    edit_ticket(store, engine={"image": "vllm/vllm-openai:v0.24.0"})
    run(tc)
    run(rc)  # revision 2: v0.24.0
    assert _image(store) == "vllm/vllm-openai:v0.24.0"
    life = {"revisionHistoryLimit": 5, "retireAfter": RETIRE, "rollback": {"toRevision": 1}}

    edit_ticket(store, lifecycle=life)
    run(tc)
    assert _image(store) == "vllm/vllm-openai:v0.23.0"
    rolled = cond(get(store, "InferenceTicket"), "RolledBack")
    assert rolled.status == "True" and "revision 1" in rolled.message
    run(rc)  # the restored template becomes revision 3 and revision 1 leaves the history
    assert [r.number for r in read_history(get(store, "ModelDeployment"))] == [2, 3]
    run(tc)  # still pinned: the template was kept in the ticket's status
    assert _image(store) == "vllm/vllm-openai:v0.23.0"

    life["rollback"] = {"toRevision": 7}
    edit_ticket(store, lifecycle=life)
    run(tc)
    missing = cond(get(store, "InferenceTicket"), "RolledBack")
    assert missing.status == "False" and missing.reason == "RevisionNotKept" and "kept: 2, 3" in missing.message

    life.pop("rollback")
    edit_ticket(store, lifecycle=life)
    run(tc)
    assert _image(store) == "vllm/vllm-openai:v0.24.0"
    assert cond(get(store, "InferenceTicket"), "RolledBack").status == "False"
    assert isinstance(get(store, "ModelService"), ModelService)


# a direct deployment's retirement, as the services in front of it see it --------------------


def _solo(name: str, retire: str | None) -> ModelDeployment:
    spec: dict[str, Any] = {"replicas": 1, "template": {"spec": {"engines": [{"name": "main", "members": [{
        "nodeSelector": {"devices": [{"name": "gpu"}]},
        "template": {"spec": {"containers": [{"name": "engine", "image": "e"}]}}}]}]}}}
    if retire:
        spec["retireAfter"] = retire
    return ModelDeployment.model_validate({"metadata": {"name": name, "namespace": "ns"}, "spec": spec})


def _front(*deployments: str) -> ModelService:
    return ModelService.model_validate({"metadata": {"name": "front", "namespace": "ns"}, "spec": {
        "owner": {"team": "solo-team", "contact": "solo@example.com"},
        "endpoints": [{"name": d, "weight": 1, "selector": {"matchLabels": {"laneway.dev/deployment": d}}} for d in deployments]}})


FRONT = ObjectKey("ns", "front")


def test_removing_the_date_takes_the_service_back_from_retired() -> None:
    store, clock, _, rc = setup()
    store.create(_solo("solo", RETIRE))
    store.create(_front("solo"))
    clock.now = T_RETIRE + 60
    for _ in range(3):
        run(rc, ObjectKey("ns", "solo"))
    assert RETIRED_ANNOTATION in store.get("ModelService", FRONT).metadata.annotations
    md = store.get("ModelDeployment", ObjectKey("ns", "solo"))
    store.update(md.model_copy(update={"spec": md.spec.model_copy(update={"retire_after": None, "replicas": 1})}))  # type: ignore[attr-defined]
    for _ in range(2):
        run(rc, ObjectKey("ns", "solo"))
    svc = store.get("ModelService", FRONT)
    assert RETIRED_ANNOTATION not in svc.metadata.annotations
    assert cond(svc, "Retired").status == "False" and cond(store.get("ModelDeployment", ObjectKey("ns", "solo")), "Retired").status == "False"


def test_a_service_is_gone_only_when_every_deployment_behind_it_is_and_the_verdict_is_stable() -> None:
    store, clock, _, rc = setup()
    store.create(_solo("old", "2031-01-01"))
    store.create(_solo("new", "2032-01-01"))
    store.create(_front("old", "new"))
    clock.now = T_RETIRE + 60  # old is retired, new is active
    for _ in range(2):
        run(rc, ObjectKey("ns", "old"))
        run(rc, ObjectKey("ns", "new"))
    svc = store.get("ModelService", FRONT)
    assert RETIRED_ANNOTATION not in svc.metadata.annotations and cond(svc, "Retired").status == "False"
    rv = svc.metadata.resource_version
    run(rc, ObjectKey("ns", "old"))
    run(rc, ObjectKey("ns", "new"))
    assert store.get("ModelService", FRONT).metadata.resource_version == rv  # no tug of war between the two
    store.delete("ModelDeployment", ObjectKey("ns", "new"))
    run(rc, ObjectKey("ns", "old"))
    assert RETIRED_ANNOTATION in store.get("ModelService", FRONT).metadata.annotations
