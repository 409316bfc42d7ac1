"""Rolling updates: the pure step (`control.rolling`) and the deployment controller taking it."""

from __future__ import annotations

import asyncio

import pytest
from tests.unit.placement.placement_builders import cluster, deployment, gpu_class

from laneway.api.conditions import find_condition, set_condition
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica, RollingUpdate
from laneway.api.meta import ObjectKey
from laneway.control.base import ControlContext
from laneway.control.deployment import DeploymentController
from laneway.control.rolling import ReplicaView, Strategy, resolve_count, rollout_step
from laneway.store.memory import MemoryStore


def views(*spec: str) -> list[ReplicaView]:
    """'or' = old and ready, 'o' = old not ready, 'nr' = new ready, 'n' = new not ready, 'nf' = new failing."""
    out = []
    for i, s in enumerate(spec):
        out.append(ReplicaView(name=f"r-{i}", index=i, current=s.startswith("n"), ready="r" in s, failed="f" in s))
    return out


def test_a_surge_keeps_every_ready_replica_until_the_new_one_is_ready() -> None:
    step = rollout_step(views("or", "or", "or"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.plan_count == 4 and step.update == frozenset() and step.state == "Progressing"
    step = rollout_step(views("or", "or", "or", "n"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.update == frozenset(), "the surge replica is not Ready yet: nothing old may go"
    step = rollout_step(views("or", "or", "or", "nr"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.update == {"r-0"}, "one old replica at a time, lowest index first"
    step = rollout_step(views("n", "or", "or", "nr"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.update == frozenset(), "r-0 restarts: the Ready count is at its floor"
    step = rollout_step(views("nr", "nr", "nr", "nr"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.state == "Complete" and step.plan_count == 3, "the surge replica goes once every old one is updated"


def test_without_room_for_a_surge_it_goes_one_at_a_time() -> None:
    step = rollout_step(views("or", "or", "or"), wanted=3, strategy=Strategy(), surge_fits=False)
    assert step.plan_count == 3 and step.update == {"r-0"}
    step = rollout_step(views("n", "or", "or"), wanted=3, strategy=Strategy(), surge_fits=False)
    assert step.update == frozenset()
    assert "one at a time" in step.message


def test_old_replicas_that_serve_nothing_are_updated_first_and_freely() -> None:
    step = rollout_step(views("o", "o", "or"), wanted=3, strategy=Strategy(), surge_fits=True)
    assert step.update == {"r-0", "r-1"}


def test_paused_and_failed_rollouts_touch_no_ready_replica() -> None:
    paused = rollout_step(views("or", "or", "nr"), wanted=2, strategy=Strategy(paused=True), surge_fits=True)
    assert paused.state == "Paused" and paused.update == frozenset() and paused.plan_count == 2
    failed = rollout_step(views("or", "or", "nf"), wanted=2, strategy=Strategy(), surge_fits=True)
    assert failed.state == "Failed" and failed.update == frozenset()
    assert "rollout undo" in failed.message


def test_counts_and_percentages() -> None:
    assert resolve_count("25%", 10, default=1, round_up=True) == 3
    assert resolve_count("25%", 10, default=0, round_up=False) == 2
    assert resolve_count(None, 10, default=1, round_up=True) == 1
    with pytest.raises(ValueError):
        RollingUpdate.model_validate({"maxSurge": 0, "maxUnavailable": "0%"})
    with pytest.raises(ValueError):
        RollingUpdate.model_validate({"maxSurge": "120%"})


# -- the controller -----------------------------------------------------------------------------


def _mark_ready(store: MemoryStore, replica: ModelReplica) -> None:
    status = replica.status.model_copy(
        update={
            "conditions": set_condition([], type="Ready", status="True", reason="EnginesReady"),
            "observed_generation": replica.metadata.generation,
            "phase": "Ready",
        }
    )
    store.update_status(replica.model_copy(update={"status": status}))


def _all_ready(store: MemoryStore) -> None:
    for r in store.list(ModelReplica).items:
        if not (r.status.observed_generation == r.metadata.generation and r.status.phase == "Ready"):
            _mark_ready(store, r)


def _edit(store: MemoryStore, key: ObjectKey) -> None:
    d = store.get(ModelDeployment, key)
    spec = d.spec.model_copy(deep=True)
    spec.template.spec.engines[0].members[0].template.spec.containers[0].args = ["--new"]
    store.update(d.model_copy(update={"spec": spec}))


def _args(store: MemoryStore) -> dict[str, list[str]]:
    return {r.name: list(r.spec.engines[0].members[0].template.spec.containers[0].args or []) for r in store.list(ModelReplica).items}


@pytest.mark.parametrize("nodes, surge", [(8, True), (3, False)])
def test_a_template_edit_rolls_without_dropping_below_the_ready_count(nodes: int, surge: bool) -> None:
    store = MemoryStore()
    store.create(gpu_class("h100"))
    store.create(cluster("a", [("p", "h100", nodes)]))
    key = store.create(deployment("llama", replicas=3)).key
    ctl = DeploymentController(ControlContext(store=store))
    asyncio.run(ctl.reconcile(key))
    _all_ready(store)
    asyncio.run(ctl.reconcile(key))
    _edit(store, key)
    lowest_ready = 3
    for _ in range(20):
        asyncio.run(ctl.reconcile(key))
        ready = sum(
            1 for r in store.list(ModelReplica).items
            if find_condition(r.status.conditions, "Ready") and r.status.observed_generation == r.metadata.generation
        )
        lowest_ready = min(lowest_ready, ready)
        rollout = store.get(ModelDeployment, key).status.rollout
        if rollout is not None and rollout.state == "Complete" and len(store.list(ModelReplica).items) == 3:
            break
        _all_ready(store)  # every restarted replica comes back Ready
    else:
        pytest.fail(f"the rollout never completed: {store.get(ModelDeployment, key).status.rollout}")
    assert all(a == ["--new"] for a in _args(store).values())
    assert lowest_ready == (3 if surge else 2), "a surge keeps every replica; without room one at a time"
    d = store.get(ModelDeployment, key)
    assert find_condition(d.status.conditions, "Progressing").reason == "RolloutComplete"


def test_a_rollout_shows_progress_and_stops_on_a_crashing_template() -> None:
    store = MemoryStore()
    store.create(gpu_class("h100"))
    store.create(cluster("a", [("p", "h100", 8)]))
    key = store.create(deployment("llama", replicas=2)).key
    ctl = DeploymentController(ControlContext(store=store))
    asyncio.run(ctl.reconcile(key))
    _all_ready(store)
    _edit(store, key)
    asyncio.run(ctl.reconcile(key))
    d = store.get(ModelDeployment, key)
    assert d.status.rollout is not None and d.status.rollout.state == "Progressing"
    surge = store.get(ModelReplica, ObjectKey(key.namespace, "llama-2"))
    store.update_status(surge.model_copy(update={"status": surge.status.model_copy(update={"phase": "Failed"})}))
    asyncio.run(ctl.reconcile(key))
    d = store.get(ModelDeployment, key)
    assert d.status.rollout.state == "Failed"
    assert find_condition(d.status.conditions, "Progressing").reason == "RolloutFailed"
    assert _args(store)["llama-0"] == [] and _args(store)["llama-1"] == [], "the old replicas keep serving"


def test_bad_strategy_is_refused_with_the_field() -> None:
    with pytest.raises(ValueError) as e:
        RollingUpdate.model_validate({"maxUnavailable": "abc"})
    assert "maxUnavailable" in str(e.value)
