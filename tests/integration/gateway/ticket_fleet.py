"""The example ticket fleet in a gateway test's store, with an approved ticket composed by the
real ticket controller on a clock the test moves (for tests that call the real gateway)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.ticket import TicketController
from laneway.store.base import Store
from laneway.testing.fleet import LOOPBACK_EGRESS
from laneway.ticket.approval import approval_record

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "ticket"))

from ticket_builders import NOW, fleet, provider_keys, ticket

NS = "internal-tools"
KEY = ObjectKey(NS, "pr-review")
EU = {"laneway.dev/jurisdiction": "eu"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ComposedTicket:
    """examples/tickets/pr-review.yaml (rows replaced by `rows`), approved and composed."""

    def __init__(self, store: Store, **rows: Any) -> None:
        snapshot = fleet()
        for obj in [*snapshot.clusters, *snapshot.classes, *provider_keys()]:
            store.create(obj)
        for gw in snapshot.gateways:  # the example platform's rules, with the test's loopback door
            egress = type(gw.spec.egress).model_validate(LOOPBACK_EGRESS)
            store.create(gw.model_copy(update={"spec": gw.spec.model_copy(update={"egress": egress})}))
        created = store.create(ticket(**rows))
        record = approval_record(created, by="0123abcd", role="platform", at="2030-03-17T00:00:00Z")
        store.update_status(created.model_copy(update={"status": created.status.model_copy(update=record)}))
        self.clock = Clock(NOW)
        self.controller = TicketController(ControlContext(store=store, clock=self.clock))
        self.reconcile()

    def reconcile(self) -> float | None:
        return asyncio.run(self.controller.reconcile(KEY)).requeue_after
