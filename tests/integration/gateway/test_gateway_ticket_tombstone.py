"""Deleting a ticket leaves its service as a tombstone: callers get 410 Gone naming the ticket,
the date and the owner, for the retention period, then 404 (issue #21, finding 5).

The real pieces: the ticket is deleted through the API with the team's token, the ticket
controller and the garbage collector reconcile the store (driven here, with a clock the test
moves), and every answer comes from the real gateway over HTTP.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_harness import Fleet

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "server"))
sys.path.insert(0, str(ROOT / "tests" / "unit" / "ticket"))

from server_harness import RunningApi, run_api
from ticket_builders import NOW, provider_keys, ticket
from ticket_builders import fleet as example_fleet

from laneway.api.kinds import InferenceTicket, ModelEndpoint
from laneway.api.labels import BOUNDARY_LABELS_ANNOTATION, DEPLOYMENT_LABEL, WRITTEN_BY_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.gc import GarbageCollector, uid_key
from laneway.control.ticket import TicketController
from laneway.testing.fleet import LOOPBACK_EGRESS
from laneway.ticket.approval import approval_record
from laneway.ticket.retirement import DAY, TOMBSTONE

NS = "internal-tools"
KEY = ObjectKey(NS, "pr-review")
BODY = {"model": "coder", "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(fleet: Fleet) -> Iterator[RunningApi]:
    yield from run_api(fleet.store)


def _replica_endpoint(url: str) -> ModelEndpoint:
    """What the replica controller writes for a ready replica of the ticket's deployment on an
    EU cluster (a stand-in replica on 127.0.0.1, so no engine has to start)."""
    return ModelEndpoint.model_validate({
        "metadata": {
            "name": "pr-review-0", "namespace": NS,
            "labels": {DEPLOYMENT_LABEL: "pr-review", "laneway.dev/jurisdiction": "eu"},
            "annotations": {WRITTEN_BY_ANNOTATION: "laneway", BOUNDARY_LABELS_ANNOTATION: "laneway.dev/jurisdiction"},
            "ownerReferences": [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": "pr-review-0",
                                 "uid": "replica-uid", "controller": True}],
        },
        "spec": {"url": url},
        "status": {"ready": True},
    })


def _reconcile(tc: TicketController) -> float | None:
    return asyncio.run(tc.reconcile(KEY)).requeue_after


def test_a_deleted_tickets_service_answers_410_with_the_ticket_and_owner_then_404(fleet: Fleet, api: RunningApi) -> None:
    store = fleet.store
    snapshot = example_fleet()
    for obj in [*snapshot.clusters, *snapshot.classes, *provider_keys()]:
        store.create(obj)
    for gw in snapshot.gateways:  # the example platform's rules, with the test's loopback door
        store.create(gw.model_copy(update={"spec": gw.spec.model_copy(update={"egress": type(gw.spec.egress).model_validate(LOOPBACK_EGRESS)})}))
    created = store.create(ticket())
    record = approval_record(created, by="0123abcd", role="platform", at="2030-03-17T00:00:00Z")
    store.update_status(created.model_copy(update={"status": created.status.model_copy(update=record)}))
    clock = Clock(NOW)
    tc = TicketController(ControlContext(store=store, clock=clock))
    _reconcile(tc)
    engine = fleet.upstream("engine")
    store.create(_replica_endpoint(engine.url))
    fleet.sync()

    client = openai.OpenAI(base_url=f"{fleet.address}/v1", api_key="k", max_retries=0)
    assert client.chat.completions.create(model="coder", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == "engine"
    served = len(engine.received)

    with api.client(api.token("team", NS)) as team:
        r = team.delete(f"/apis/laneway.dev/v1alpha1/namespaces/{NS}/inferencetickets/pr-review")
        assert r.status_code == 200, r.text
    held = store.find(InferenceTicket, KEY)
    assert held is not None and held.metadata.deletion_timestamp  # the finalizer holds it for the tombstone
    uid = held.metadata.uid or ""
    _reconcile(tc)
    asyncio.run(GarbageCollector(store).reconcile(uid_key(uid)))
    store.delete("ModelEndpoint", ObjectKey(NS, "pr-review-0"))  # the replica went with the deployment
    assert store.find(InferenceTicket, KEY) is None
    fleet.sync()

    message = ("service pr-review was retired on 2030-03-17 when its InferenceTicket 'pr-review' was deleted; "
               "owner: internal-tools (#tools-oncall)")
    for url in (f"{fleet.address}/{NS}/pr-review/v1/chat/completions", f"{fleet.address}/v1/chat/completions"):
        r = httpx.post(url, json=BODY, timeout=30)
        assert r.status_code == 410, r.text
        assert r.json()["error"]["message"] == message and r.json()["error"]["code"] == "service_retired"
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="coder", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 410 and "InferenceTicket 'pr-review' was deleted" in str(caught.value)
    assert len(engine.received) == served

    # Still a tombstone a day before the retention period ends; gone (404) after it.
    clock.now += TOMBSTONE - DAY
    assert _reconcile(tc) == DAY
    fleet.sync()
    assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 410
    clock.now += DAY
    _reconcile(tc)
    fleet.sync()
    r = httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "service_not_found"
