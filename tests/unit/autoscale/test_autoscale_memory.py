"""The autoscaler's memory: compaction keeps every decision the same, and the state survives a
round trip through the deployment's status (what a restarted controller reads)."""

from __future__ import annotations

import json
import random

from laneway.autoscale.memory import state_fields, state_from_status
from laneway.autoscale.policy import AutoscalingConfig, AutoscalingContext, Demand, PolicyState, compact, decide


def _windows(recs: tuple[tuple[float, int], ...], now: float, window: float) -> tuple[int, int]:
    inside = [r for t, r in recs if now - t <= window]
    return min(inside), max(inside)


def test_compaction_keeps_every_window_answer() -> None:
    rng = random.Random(7)
    for _ in range(200):
        recs = tuple((float(t), rng.randint(0, 6)) for t in range(60))
        kept = compact(recs)
        assert kept[-1] == recs[-1] and len(kept) <= 2 * 7
        for window in (0, 1, 5, 17, 59, 100):
            assert _windows(kept, 59.0, window) == _windows(recs, 59.0, window)


def test_steady_recommendations_compact_to_one_entry() -> None:
    assert compact(((1.0, 3), (2.0, 3), (3.0, 3))) == ((3.0, 3),)


def test_the_newest_recommendation_is_stored_at_a_coarse_time() -> None:
    state = PolicyState(recommendations=((90.0, 5), (103.0, 1)), last_active=80.0)
    fields = state_fields(state, 103.0)
    assert fields == {"history": [{"at": 90.0, "replicas": 5}, {"at": 100.0, "replicas": 1}], "lastActive": 80.0}
    steady = [state_fields(PolicyState(((t, 4),), t), t) for t in (101.0, 102.0, 109.5)]
    assert steady[0] == steady[1] == steady[2] == {"history": [{"at": 100.0, "replicas": 4}]}, "under load: one write per step, not per tick"
    close = state_fields(PolicyState(((93.0, 5), (97.0, 1)), None), 97.0)
    assert close["history"] == [{"at": 93.0, "replicas": 5}, {"at": 93.0, "replicas": 1}], "an older, higher entry is never lost"


def test_a_restart_at_steady_peak_keeps_the_count() -> None:
    cfg = AutoscalingConfig(min_replicas=1, max_replicas=4, target_in_flight=8, scale_down_stabilization=60)
    state = PolicyState()
    for t in range(1000, 1100):  # 100 s at load 32: four replicas, every tick the same
        decision = decide(AutoscalingContext(cfg, 4, Demand(in_flight=32), float(t), state))
        state = decision.state
    stored = json.loads(json.dumps(state_fields(state, 1099.0)))
    assert stored["history"], "a steady recommendation is remembered"
    dip = decide(AutoscalingContext(cfg, 4, Demand(in_flight=12), 1101.0, state_from_status(stored, 1101.0)))
    assert dip.replicas == 4, "the first decision after a restart does not scale down at peak"


def test_state_round_trips_through_json_status() -> None:
    state = PolicyState(recommendations=((90.0, 5), (95.0, 2)), last_active=91.5)
    stored = json.loads(json.dumps(state_fields(state, 100.0)))
    assert state_from_status(stored, 101.0) == state


def test_malformed_or_future_memory_is_ignored() -> None:
    status = {"history": [{"at": 50.0, "replicas": 2}, "x", [60.0, 1], {"at": 60.0, "replicas": -1}, {"at": 70.0, "replicas": True},
                          {"at": 500.0, "replicas": 3}, {"at": None, "replicas": 1}], "lastActive": 900.0}
    assert state_from_status(status, 100.0) == PolicyState(recommendations=((50.0, 2),), last_active=None)
    assert state_from_status(None, 100.0) == PolicyState()
    assert state_from_status({"history": "no"}, 100.0) == PolicyState()


def test_a_restart_during_a_lull_keeps_the_scale_down_window() -> None:
    cfg = AutoscalingConfig(min_replicas=0, max_replicas=10, target_in_flight=4, scale_to_zero_after=600, scale_down_stabilization=60)
    busy = decide(AutoscalingContext(cfg, 2, Demand(in_flight=40), 1000.0))
    assert busy.replicas == 10
    lull = decide(AutoscalingContext(cfg, 10, Demand(), 1010.0, busy.state))
    assert lull.replicas == 10 and lull.reason == "Stabilizing"
    remembered = state_from_status(json.loads(json.dumps(state_fields(lull.state, 1010.0))), 1020.0)
    assert remembered.last_active == 1000.0, "the scaleToZeroAfter clock is not restarted either"
    after_restart = decide(AutoscalingContext(cfg, 10, Demand(), 1020.0, remembered))
    assert after_restart.replicas == 10, "a restarted controller still waits out scaleDownStabilization"
    forgetful = decide(AutoscalingContext(cfg, 10, Demand(), 1020.0, PolicyState()))
    assert forgetful.replicas == 1, "what happened before: a fresh state dropped replicas at once"
    assert decide(AutoscalingContext(cfg, 10, Demand(), 1061.0, after_restart.state)).replicas == 1
