"""Machines' readiness from their heartbeat leases, over a memory store (times passed in)."""

from __future__ import annotations

import time

from laneway.api.kinds.platform import InferenceCluster, MachineStatus
from laneway.api.meta import ObjectKey
from laneway.drivers.machines.book import edit_machines, heard_from, refresh_readiness
from laneway.store.memory import MemoryStore


def _store() -> tuple[MemoryStore, InferenceCluster]:
    store = MemoryStore()
    cluster = store.create(InferenceCluster.model_validate({
        "metadata": {"name": "rack"},
        "spec": {"cluster": {"source": "Machines", "machines": {"heartbeatGracePeriod": "5s"}},
                 "nodePools": [{"name": "h200", "className": "rack-h200"}]},
    }))
    edit_machines(store, "rack", lambda _c, ms: [*ms, MachineStatus(name="gpu-a", pool="h200", ready=True)])
    return store, cluster


def _ready(store: MemoryStore) -> bool:
    return store.get(InferenceCluster, ObjectKey("", "rack")).status.machines[0].ready


def test_a_machine_unheard_past_its_grace_period_turns_notready_and_back() -> None:
    store, cluster = _store()
    assert heard_from(store, cluster, "gpu-a")
    now = time.time()
    refresh_readiness(store, "rack", watching_since=now - 60, now=now)
    assert _ready(store)
    later = now + 30
    refreshed = refresh_readiness(store, "rack", watching_since=now - 60, now=later)
    machine = refreshed.status.machines[0]
    assert not machine.ready and "no heartbeat for 5s" in machine.message
    heard_from(store, cluster, "gpu-a")
    refresh_readiness(store, "rack", watching_since=now - 60)
    assert _ready(store)


def test_a_control_plane_that_just_started_waits_a_grace_period_before_judging() -> None:
    store, cluster = _store()
    heard_from(store, cluster, "gpu-a")
    later = time.time() + 30  # the lease ran out while this control plane was not running
    refresh_readiness(store, "rack", watching_since=later - 1, now=later)
    assert _ready(store), "not judged before this process has watched for 5s"
    refresh_readiness(store, "rack", watching_since=later - 6, now=later)
    assert not _ready(store)


def test_writing_the_same_machines_again_writes_nothing() -> None:
    store, _ = _store()
    before = store.revision()
    edit_machines(store, "rack", lambda _c, ms: ms)
    edit_machines(store, "rack", lambda _c, ms: None)
    assert store.revision() == before
