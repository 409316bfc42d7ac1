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
from laneway.api.meta import ObjectKey
from laneway.control.gc import GarbageCollector, uid_key
from laneway.ticket.retirement import DAY, TOMBSTONE

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
    composed.clock.now += TOMBSTONE - DAY
    assert composed.reconcile() == DAY
    fleet.sync()
    assert httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30).status_code == 410
    composed.clock.now += DAY
    composed.reconcile()
    fleet.sync()
    r = httpx.post(f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "service_not_found"
