"""The autoscaling policy with plain data and a hand-driven clock."""

from __future__ import annotations

from laneway.api.kinds.deployment import Autoscaling
from laneway.autoscale.policy import AutoscalingConfig, AutoscalingContext, Demand, PolicyState, decide

CFG = AutoscalingConfig(min_replicas=0, max_replicas=10, target_in_flight=4, scale_to_zero_after=60, scale_up_stabilization=0, scale_down_stabilization=30)


class Run:
    """Feeds demand to `decide` the way the controller does: state and replicas carried over."""

    def __init__(self, cfg: AutoscalingConfig = CFG, replicas: int = 0, now: float = 1000.0) -> None:
        self.cfg, self.replicas, self.now, self.state = cfg, replicas, now, PolicyState()
        self.last = None

    def step(self, load: float, *, after: float = 1.0, capacity: int | None = None, queued: float = 0.0):  # type: ignore[no-untyped-def]
        self.now += after
        d = decide(AutoscalingContext(self.cfg, self.replicas, Demand(in_flight=load, queued=queued), self.now, self.state, capacity))
        self.state, self.replicas, self.last = d.state, d.replicas, d
        return d


def test_scales_up_at_once_to_meet_load() -> None:
    run = Run(replicas=1)
    d = run.step(17)
    assert d.replicas == 5 and d.reason == "Demand"


def test_scale_from_zero_asks_for_one_replica_immediately() -> None:
    run = Run(cfg=AutoscalingConfig(0, 10, 4, scale_up_stabilization=60), replicas=0)
    d = run.step(0, queued=1)
    assert d.replicas == 1 and d.reason == "ScaleFromZero"


def test_scale_down_waits_for_the_stabilization_window() -> None:
    run = Run(replicas=1)
    assert run.step(40).replicas == 10
    assert run.step(4, after=10).replicas == 10
    assert run.last.reason == "Stabilizing"
    assert run.step(4, after=10).replicas == 10
    assert run.step(4, after=15).replicas == 1, "after 30 s without a higher recommendation"


def test_scale_up_stabilization_ignores_a_short_spike() -> None:
    run = Run(cfg=AutoscalingConfig(0, 10, 4, scale_up_stabilization=20, scale_down_stabilization=0), replicas=2)
    run.step(8)
    assert run.step(40).replicas == 2
    assert run.step(40, after=25).replicas == 10


def test_zero_only_after_scale_to_zero_after_idle() -> None:
    run = Run(cfg=AutoscalingConfig(0, 10, 4, scale_to_zero_after=60, scale_down_stabilization=10), replicas=3)
    run.step(10)
    assert run.step(0, after=30).replicas == 1, "idle: down to one, not to zero"
    assert run.step(0, after=20).replicas == 1
    d = run.step(0, after=15)
    assert d.replicas == 0 and d.reason == "ScaleToZero"
    assert run.step(0, after=100).replicas == 0
    assert run.step(3).replicas == 1


def test_never_below_min_or_above_max() -> None:
    run = Run(cfg=AutoscalingConfig(2, 3, 1, scale_down_stabilization=0), replicas=2)
    d = run.step(0, after=1000)
    assert d.replicas == 2 and d.reason == "MinReplicas"
    d = run.step(50)
    assert d.replicas == 3 and d.reason == "MaxReplicas" and "maxReplicas is 3" in d.message


def test_min_zero_without_scale_to_zero_time_keeps_one() -> None:
    run = Run(cfg=AutoscalingConfig(0, 4, 1, scale_to_zero_after=300, scale_down_stabilization=0), replicas=1)
    assert run.step(0, after=100).replicas == 1


def test_capacity_is_named_as_the_limit() -> None:
    run = Run(replicas=2)
    d = run.step(40, capacity=3)
    assert d.replicas == 3 and d.reason == "CapacityLimited" and d.wanted == 10
    assert "capacity, not demand" in d.message


def test_engine_queue_metrics_count_when_higher() -> None:
    d = decide(AutoscalingContext(CFG, 1, Demand(in_flight=1, engine_running=8, engine_waiting=12), 0.0))
    assert d.replicas == 5


def test_config_from_spec_parses_durations() -> None:
    spec = Autoscaling.model_validate({"minReplicas": 0, "maxReplicas": 5, "targetInFlight": 2, "scaleToZeroAfter": "2m", "scaleDownStabilization": "45s"})
    cfg = AutoscalingConfig.from_spec(spec)
    assert (cfg.scale_to_zero_after, cfg.scale_down_stabilization, cfg.scale_up_stabilization) == (120.0, 45.0, 0.0)


def test_same_inputs_same_answer() -> None:
    ctx = AutoscalingContext(CFG, 3, Demand(in_flight=9), 50.0, PolicyState(((40.0, 6),), 45.0))
    assert decide(ctx) == decide(ctx)
