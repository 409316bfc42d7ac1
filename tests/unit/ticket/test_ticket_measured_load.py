"""The scaling row prefers what the fleet measured of the ticket's engines to a declared limit,
only for the template these rows compose, and says which figure it used (issue #21)."""

from __future__ import annotations

from dataclasses import replace

from ticket_builders import NOW, fleet, providers, ticket

from laneway.api.kinds import InferenceTicket, ModelDeployment, ModelService
from laneway.api.kinds.serving import GatewayTraffic
from laneway.api.meta import OwnerReference
from laneway.gateway.load import EngineLoad, saturated_running
from laneway.ticket.checks import RowCheck, check_ticket
from laneway.ticket.compose import compose
from laneway.ticket.fleet import FleetSnapshot


def _stored(t: InferenceTicket) -> InferenceTicket:
    return t.model_copy(update={"metadata": t.metadata.model_copy(update={"uid": "ticket-uid"})})


def _running(t: InferenceTicket, *, concurrency: dict[str, int] | None, owner_uid: str = "ticket-uid",
             template_of: InferenceTicket | None = None) -> FleetSnapshot:
    """The fleet with the ticket's composed deployment running (of `template_of`'s rows) and its
    service carrying one gateway's measured concurrency."""
    composed = compose(template_of or t, classes=fleet().classes, providers=providers())
    ref = OwnerReference(api_version="laneway.dev/v1alpha1", kind="InferenceTicket", name=t.name, uid=owner_uid, controller=True)

    def owned(obj: ModelDeployment | ModelService) -> ModelDeployment | ModelService:
        return obj.model_copy(update={"metadata": obj.metadata.model_copy(update={"owner_references": [ref]})})

    deployment = owned(composed.deployment)
    service = owned(composed.service)
    traffic = [GatewayTraffic(gateway="gw-a", concurrency=concurrency)]
    service = service.model_copy(update={"status": service.status.model_copy(update={"traffic": traffic})})
    assert isinstance(deployment, ModelDeployment) and isinstance(service, ModelService)
    return replace(fleet(), services=(service,), deployments=(deployment,), secrets=())


def _scaling(t: InferenceTicket, snap: FleetSnapshot) -> RowCheck:
    return next(r for r in check_ticket(t, snap, now=NOW).rows if r.key == "scaling")


def test_a_measured_concurrency_wins_and_is_named() -> None:
    t = _stored(ticket())
    row = _scaling(t, _running(t, concurrency={"primary": 16, "canary": 2}))
    assert row.reason == "PeakExceedsCapacity"
    assert row.message.startswith(
        "peak 40 concurrent needs 3 replica(s) at 16 per replica (measured: the most an engine of pr-review ran at once "
        "while requests waited, from its metrics via gateway gw-a); the row allows at most 2"
    ), row.message


def test_a_measurement_of_another_template_is_not_used() -> None:
    t = _stored(ticket())
    other = ticket(engine={"image": "vllm/vllm-openai:v0.23.0", "args": ["--max-num-seqs", "8"]})
    row = _scaling(t, _running(t, concurrency={"primary": 1}, template_of=other))
    assert row.passed, row.message
    assert any("at 256 per replica (the engine declares no --max-num-seqs: the default; not measured for these rows: "
               "ModelDeployment pr-review runs another template" in d for d in row.details), row.details


def test_objects_the_ticket_did_not_compose_are_not_its_measurement() -> None:
    t = _stored(ticket())
    row = _scaling(t, _running(t, concurrency={"primary": 1}, owner_uid="someone-else"))
    assert row.passed and any("nothing measured: the ticket's deployment does not run yet" in d for d in row.details)


def test_offline_nothing_is_said_about_measurement() -> None:
    row = _scaling(ticket(), fleet())
    assert any(d.endswith("(the engine declares no --max-num-seqs: the default)") for d in row.details), row.details


def test_the_engine_counts_as_full_only_when_requests_wait_in_two_readings_in_a_row() -> None:
    def load(waiting: int, running: int) -> EngineLoad:
        return EngineLoad(observed_at=0.0, waiting=waiting, running=running)

    assert saturated_running(None, load(5, 8)) is None
    assert saturated_running(load(0, 3), load(2, 8)) is None  # a blip between arrival and the next step
    assert saturated_running(load(1, 8), load(0, 8)) is None  # the queue drained
    assert saturated_running(load(4, 7), load(2, 8)) == 7
    assert saturated_running(load(1, 0), load(1, 0)) is None
    assert saturated_running(EngineLoad(observed_at=0.0, waiting=3), load(3, 8)) is None  # running not published
