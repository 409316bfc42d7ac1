"""Deleting a ticket leaves its service as a tombstone: callers get 410 Gone naming the ticket,
the date and the owner, for the retention period, then 404 (issue #21, finding 5).

The real pieces: the ticket is deleted through the API with the team's token, the ticket
controller and the garbage collector reconcile the store (driven here, with a clock the test
moves), and every answer comes from the real gateway over HTTP.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from gateway_harness import Fleet, placed_endpoint
from server_harness import RunningApi
from ticket_fleet import EU, KEY, NS, ComposedTicket

from laneway.api.kinds import InferenceTicket
from laneway.api.meta import ObjectKey, rfc3339
from laneway.control.gc import GarbageCollector, uid_key
from laneway.ticket.policy import TicketPolicy
from laneway.ticket.retirement import DAY

BODY = {"model": "coder", "messages": [{"role": "user", "content": "hi"}]}


def test_a_deleted_tickets_service_answers_410_with_the_ticket_and_owner_then_404(fleet: Fleet, api: RunningApi) -> None:
    store = fleet.store
    composed = ComposedTicket(store)
    engine = fleet.upstream("engine")
    store.create(placed_endpoint("pr-review-0", engine.url, namespace=NS, deployment="pr-review",
                                 cluster_labels=EU))
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
    composed.reconcile()
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
    composed.clock.now += TicketPolicy().tombstone - DAY  # the platform set no tombstonePeriod: 30 days
    assert composed.reconcile() == DAY
    fleet.sync()
    assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 410
    composed.clock.now += DAY
    composed.reconcile()
    fleet.sync()
    r = httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "service_not_found"


MERGE = {"Content-Type": "application/merge-patch+json"}
GROUP = "/apis/laneway.dev/v1alpha1"


def test_the_platform_sets_the_tombstone_period_and_a_team_can_neither_shorten_nor_lengthen_it(fleet: Fleet, api: RunningApi) -> None:
    store = fleet.store
    composed = ComposedTicket(store)
    store.create(placed_endpoint("pr-review-0", fleet.upstream("engine").url, namespace=NS, deployment="pr-review",
                                 cluster_labels=EU))
    service_url = f"{GROUP}/namespaces/{NS}/modelservices/pr-review"
    with api.client(api.token("platform")) as platform:
        r = platform.patch(f"{GROUP}/inferencegateways/ticket-rules", json={"spec": {"tickets": {"tombstonePeriod": "7d"}}}, headers=MERGE)
        assert r.status_code == 200, r.text
    with api.client(api.token("team", NS)) as team:
        # the platform's rule is out of the team's reach: the gateway, the ticket, the service
        r = team.patch(f"{GROUP}/inferencegateways/ticket-rules", json={"spec": {"tickets": {"tombstonePeriod": "3650d"}}}, headers=MERGE)
        assert r.status_code == 403 and "cluster-scoped kinds are published by the platform lane" in r.text
        r = team.patch(f"{GROUP}/namespaces/{NS}/inferencetickets/pr-review",
                       json={"spec": {"lifecycle": {"tombstonePeriod": "1s"}}}, headers=MERGE)
        assert r.status_code == 422 and "tombstonePeriod" in r.text, r.text
        r = team.patch(service_url, json={"metadata": {"annotations": {"laneway.dev/tombstone-until": "2099-01-01T00:00:00Z"}}}, headers=MERGE)
        assert r.status_code == 422 and "is written by laneway itself" in r.text, r.text

        deleted_at = composed.clock.now
        assert team.delete(f"{GROUP}/namespaces/{NS}/inferencetickets/pr-review").status_code == 200
        composed.reconcile()
        store.delete("ModelEndpoint", ObjectKey(NS, "pr-review-0"))
        fleet.sync()
        assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 410

        # the tombstone is laneway's now: no edit of its end, no early deletion, no rewrite
        r = team.patch(service_url, json={"metadata": {"annotations": {"laneway.dev/tombstone-until": "2099-01-01T00:00:00Z"}}}, headers=MERGE)
        assert r.status_code == 422 and "is written by laneway itself" in r.text, r.text
        for attempt in (
            team.patch(service_url, json={"metadata": {"annotations": {"laneway.dev/tombstone-until": None}}}, headers=MERGE),
            team.patch(service_url, json={"spec": {"breakGlass": True}}, headers=MERGE),
            team.delete(service_url),
            team.put(service_url, json=team.get(service_url).json()),
        ):
            assert attempt.status_code == 403, attempt.text
            assert "tombstone of the deleted InferenceTicket 'pr-review'" in attempt.text
            assert "create an InferenceTicket named 'pr-review'" in attempt.text
    until = store.get("ModelService", KEY).metadata.annotations["laneway.dev/tombstone-until"]
    assert until == rfc3339(deleted_at + 7 * DAY)

    composed.clock.now = deleted_at + 7 * DAY - 1
    composed.reconcile()
    fleet.sync()
    assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 410
    composed.clock.now = deleted_at + 7 * DAY
    composed.reconcile()
    fleet.sync()
    assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 404
