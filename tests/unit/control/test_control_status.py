"""Status bookkeeping: conditions set idempotently, written only when they change."""

from __future__ import annotations

import pytest

from laneway.api.kinds import ModelCache, Secret
from laneway.api.meta import ObjectMeta
from laneway.control.status import ConditionUpdate, NoStatus, apply_conditions, desired_status, write_status
from laneway.store.base import Conflict
from laneway.store.memory import MemoryStore


def cache(name: str = "weights") -> ModelCache:
    return ModelCache.model_validate(
        {"metadata": {"name": name, "namespace": "ml"}, "spec": {"source": "Local", "local": {"path": "/models/x"}}}
    )


READY = ConditionUpdate(type="Ready", status="True", reason="Hydrated", message="1 of 1 clusters ready")


def test_first_write_records_condition_and_observed_generation() -> None:
    store = MemoryStore()
    obj = store.create(cache())
    out = write_status(store, obj, conditions=[READY])
    assert out.metadata.resource_version != obj.metadata.resource_version
    stored = store.get("ModelCache", obj.key)
    assert stored.status.observed_generation == 1
    [cond] = stored.status.conditions
    assert (cond.type, cond.status, cond.reason, cond.observed_generation) == ("Ready", "True", "Hydrated", 1)
    assert cond.last_transition_time


def test_an_unchanged_status_is_not_written_again() -> None:
    store = MemoryStore()
    obj = write_status(store, store.create(cache()), conditions=[READY])
    revision = store.revision()
    again = write_status(store, obj, conditions=[READY])
    assert store.revision() == revision
    assert again is obj


def test_transition_time_moves_only_when_the_status_flips() -> None:
    store = MemoryStore()
    obj = write_status(store, store.create(cache()), conditions=[READY])
    first = obj.status.conditions[0].last_transition_time
    reworded = write_status(store, obj, conditions=[ConditionUpdate("Ready", "True", "Hydrated", "still ready")])
    assert reworded.status.conditions[0].last_transition_time == first
    assert reworded.status.conditions[0].message == "still ready"


def test_fields_are_set_and_validated() -> None:
    store = MemoryStore()
    obj = store.create(cache())
    out = write_status(store, obj, fields={"clusters": [{"cluster": "local", "state": "Ready"}]})
    assert out.status.clusters[0].state == "Ready"
    with pytest.raises(ValueError):
        desired_status(obj, fields={"clusters": [{"cluster": "local", "state": "Sideways"}]})


def test_a_stale_object_conflicts_instead_of_overwriting() -> None:
    store = MemoryStore()
    obj = store.create(cache())
    write_status(store, obj, conditions=[READY])
    with pytest.raises(Conflict):
        write_status(store, obj, conditions=[ConditionUpdate("Ready", "False", "Failed", "disk full")])


def test_a_kind_without_status_is_refused_clearly() -> None:
    secret = Secret(metadata=ObjectMeta(name="key", namespace="ml"), string_data={"k": "v"})
    with pytest.raises(NoStatus, match="no status"):
        write_status(MemoryStore(), secret, conditions=[READY])


def test_apply_conditions_is_pure() -> None:
    status = cache().status
    out = apply_conditions(status, [READY], observed_generation=4)
    assert status.conditions == [] and status.observed_generation is None
    assert out.observed_generation == 4 and out.conditions[0].type == "Ready"
