"""Status helpers take `now`: called with it they are pure (same inputs, same status), and a
controller stamps condition transitions with its own clock, not the wall clock."""

from __future__ import annotations

import asyncio

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelCache
from laneway.api.meta import ObjectKey, rfc3339
from laneway.control.base import ControlContext
from laneway.control.cluster import ClusterController
from laneway.control.status import ConditionUpdate, desired_status
from laneway.drivers.registry import DriverSet
from laneway.store.memory import MemoryStore

NOW = "2031-02-03T04:05:06Z"


def test_desired_status_with_now_is_pure() -> None:
    obj = ModelCache.model_validate({"metadata": {"name": "w", "namespace": "ml"}, "spec": {"source": "Local", "local": {"path": "/m"}}})
    ready = ConditionUpdate("Ready", "True", "Hydrated")
    first = desired_status(obj, conditions=[ready], now=NOW)
    assert first == desired_status(obj, conditions=[ready], now=NOW)
    assert first.conditions[0].last_transition_time == NOW
    flipped = desired_status(obj.model_copy(update={"status": first}), conditions=[ConditionUpdate("Ready", "False", "Gone")], now="2031-02-03T05:00:00Z")
    assert flipped.conditions[0].last_transition_time == "2031-02-03T05:00:00Z"
    kept = desired_status(obj.model_copy(update={"status": first}), conditions=[ConditionUpdate("Ready", "True", "Reworded")], now="2040-01-01T00:00:00Z")
    assert kept.conditions[0].last_transition_time == NOW, "no flip: the transition time stays"


def test_rfc3339_of_a_clock_reading() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1_912_219_506.9) == "2030-08-06T04:05:06Z"


def test_a_controller_stamps_conditions_with_its_clock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore()
    store.create(InferenceClass.model_validate(
        {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 1}]}}))
    store.create(InferenceCluster.model_validate(
        {"metadata": {"name": "local"}, "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": [{"name": "p", "className": "cpu"}]}}))
    drivers = DriverSet(logs_dir=tmp_path / "logs", data_dir=tmp_path)
    ctx = ControlContext(store=store, gateway_address="http://127.0.0.1:1", clock=lambda: 1_912_219_506.0, drivers=drivers)
    asyncio.run(ClusterController(ctx, drivers).reconcile(ObjectKey("", "local")))
    asyncio.run(drivers.close())
    cluster = store.get(InferenceCluster, ObjectKey("", "local"))
    assert {c.last_transition_time for c in cluster.status.conditions} == {"2030-08-06T04:05:06Z"}
