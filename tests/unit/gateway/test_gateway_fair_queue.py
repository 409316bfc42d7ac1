"""Weighted fair queuing between callers, simulated with a made-up clock over the real queue:
one caller floods while ten send steadily; the ten get their fair share (Jain's index), a
heavier weight gets more, Critical goes first, and memory stays bounded with thousands of
callers."""

from __future__ import annotations

from collections import Counter, deque

from laneway.gateway.fair_queue import FairQueue, Priority, lower, token_cost


def jain(xs: list[float]) -> float:
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def serve(queue: FairQueue, *, steps: int, backlog: dict[str, int], weights: dict[str, float] | None = None,
          cost: dict[str, float] | None = None) -> Counter[str]:
    """Each caller keeps `backlog[caller]` requests waiting; one request is served per step."""
    served: Counter[str] = Counter()
    weights = weights or {}
    cost = cost or {}
    waiting: Counter[str] = Counter()
    for _ in range(steps):
        for caller, depth in backlog.items():
            while waiting[caller] < depth:
                queue.push(caller, cost=cost.get(caller, 100.0), weight=weights.get(caller, 1.0))
                waiting[caller] += 1
        t = queue.pop()
        assert t is not None
        waiting[t.flow] -= 1
        served[t.flow] += 1
    return served


def fifo(*, steps: int, backlog: dict[str, int]) -> Counter[str]:
    line: deque[str] = deque()
    waiting: Counter[str] = Counter()
    served: Counter[str] = Counter()
    for _ in range(steps):
        for caller, depth in backlog.items():
            while waiting[caller] < depth:
                line.append(caller)
                waiting[caller] += 1
        c = line.popleft()
        waiting[c] -= 1
        served[c] += 1
    return served


def test_ten_steady_callers_get_their_fair_share_while_one_floods() -> None:
    backlog = {"flood": 200, **{f"steady-{i}": 1 for i in range(10)}}
    fair = serve(FairQueue(), steps=2200, backlog=backlog)
    steady = [float(fair[f"steady-{i}"]) for i in range(10)]
    assert jain(steady) >= 0.95
    assert min(steady) >= 2200 / 11 * 0.9  # each gets about a caller's share: 1/11 of the service
    # First come, first served gives the flood nearly everything.
    plain = fifo(steps=2200, backlog=backlog)
    assert plain["flood"] > 2200 * 0.9 and fair["flood"] < 2200 * 0.15


def test_the_share_is_in_tokens_and_follows_weights() -> None:
    backlog = {"short": 5, "long": 5, "heavy": 5}
    got = serve(FairQueue(), steps=3000, backlog=backlog, cost={"short": 100, "long": 1000, "heavy": 100},
                weights={"heavy": 3.0})
    assert 9 <= got["short"] / got["long"] <= 11  # equal tokens, not equal requests
    assert 2.7 <= got["heavy"] / got["short"] <= 3.3


def test_critical_goes_before_standard_whatever_the_tags() -> None:
    q = FairQueue()
    for _i in range(50):
        q.push("busy", cost=1, priority="Standard")
    q.push("ops", cost=10_000, priority="Critical")
    first = q.pop()
    assert first is not None and first.flow == "ops"


def test_removed_and_requeued_tickets_keep_the_order() -> None:
    q = FairQueue()
    a = q.push("a", cost=1)
    b = q.push("b", cost=1)
    q.remove(a)
    assert len(q) == 1
    got = q.pop()
    assert got is b and q.pop() is None
    q.requeue(b)
    assert q.pop() is b


def test_thousands_of_callers_keep_the_flow_map_bounded() -> None:
    q = FairQueue()
    for i in range(20_000):
        q.push(f"caller-{i}", cost=10)
        assert q.pop() is not None
    assert q.flows <= 2048


def test_a_caller_can_lower_its_priority_but_never_raise_it() -> None:
    granted: Priority = "Sheddable"
    assert lower(granted, "Critical") == "Sheddable"
    assert lower("Standard", "Critical") == "Standard"
    assert lower("Standard", "Sheddable") == "Sheddable"
    assert lower("Critical", "nonsense") == "Critical"


def test_token_cost_counts_the_prompt_and_the_allowed_answer() -> None:
    assert token_cost(400, 50) == 150
    assert token_cost(0, None) == 256
    assert token_cost(0, True) == 256
