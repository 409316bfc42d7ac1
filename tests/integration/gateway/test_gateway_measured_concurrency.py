"""The ticket's scaling row uses what the fleet measured of its engines (issue #21, finding 3).

A real engine (laneway's vLLM-like simulator, `--max-num-seqs 3`) serves the ticket's
composed service behind the real gateway. Loaded past what it batches, it queues; the
gateway's engine watch sees requests waiting in readings in a row, records the most it ran
then (3), and writes it on the service's status. The ticket check, online against the same
store, then judges the peak against 3 per replica, not the default 256, and says it was measured.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_harness import FAST, Fleet, placed_endpoint
from ticket_fleet import EU, KEY, NS, ComposedTicket

from laneway.api.kinds import InferenceTicket, ModelService
from laneway.api.meta import ObjectKey
from laneway.engines.sim import SimConfig, create_sim_app
from laneway.store.base import Store
from laneway.ticket.checks import check_ticket
from laneway.ticket.fleet import FleetSnapshot

DEADLINE = 60.0


@pytest.fixture
def watched_fleet() -> Iterator[Fleet]:
    f = Fleet(dataclasses.replace(FAST, engine_load_interval=0.1))
    try:
        yield f
    finally:
        f.close()


def _scaling(store: Store) -> str:
    """The scaling row of the stored ticket, checked online against the store (as its controller does)."""
    report = check_ticket(store.get(InferenceTicket, KEY), FleetSnapshot.from_store(store), now=time.time())
    (row,) = [r for r in report.rows if r.key == "scaling"]
    return f"{row.reason}: {row.message} {' '.join(row.details)}"


def test_the_scaling_row_judges_the_peak_on_the_concurrency_the_gateway_measured(watched_fleet: Fleet) -> None:
    fleet = watched_fleet
    store = fleet.store
    ComposedTicket(store, overflow={"none": "the test keeps every request on the engine"})
    # Before any engine ran: the declared default, and the row says nothing was measured.
    before = _scaling(store)
    assert ("at 256 per replica (the engine declares no --max-num-seqs: the default; nothing measured yet: no engine of "
            "pr-review has been seen full (requests waiting))") in before, before

    engine = SimConfig(served_model_names=("coder",), max_num_seqs=3, ttft=0.0, itl=0.02, max_tokens=100)
    url = fleet.serve_app(create_sim_app(engine))
    store.create(placed_endpoint("pr-review-0", url, namespace=NS, deployment="pr-review", cluster_labels=EU))
    fleet.sync()
    body = {"model": "coder", "messages": [{"role": "user", "content": "review this"}], "max_tokens": 100}
    endpoint_key = ObjectKey(NS, "pr-review-0")

    with ThreadPoolExecutor(max_workers=8) as pool:
        calls = [pool.submit(httpx.post, f"{fleet.address}/{NS}/pr-review/v1/chat/completions", json=body, timeout=120)
                 for _ in range(8)]
        end = time.monotonic() + DEADLINE
        while fleet.gateway.proxy.endpoint_state(endpoint_key).concurrency != 3:
            assert time.monotonic() < end, "the gateway never saw the engine full"
            time.sleep(0.05)
        assert all(c.result().status_code == 200 for c in calls)

    fleet.loop.call(fleet.gateway.flush_status())  # the gateway writes its status now
    service = store.get(ModelService, KEY)
    assert [t.concurrency for t in service.status.traffic or []] == [{"primary": 3}]

    after = _scaling(store)
    assert after.startswith("PeakExceedsCapacity: peak 40 concurrent needs 14 replica(s) at 3 per replica (measured: "
                            "the most an engine of pr-review ran at once while requests waited, from its metrics via "
                            "gateway test-gw); the row allows at most 2"), after
