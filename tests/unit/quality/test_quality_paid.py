"""Paid probe calls: the hourly cap, the budget stop, and their tokens in the spend (pure)."""

from __future__ import annotations

from laneway.api.kinds.platform import Budget, BudgetStatus
from laneway.api.kinds.serving import GatewayTraffic, ModelEndpoint, ModelService, PaidProbeCalls, QualitySpec
from laneway.api.meta import rfc3339
from laneway.economics.budget import ledger
from laneway.economics.report import metered
from laneway.economics.tokens import Tokens
from laneway.quality.paid import PROBES_ENTRY, budget_spent, calls_after, plan_paid, with_probe_tokens
from laneway.quality.rounds import ProbeResult, fold

NOW = 1_900_000_000.0


def test_a_round_takes_whole_endpoints_while_the_hours_calls_fit() -> None:
    first = plan_paid(["b", "a", "c"], probes=2, cap=5, previous=None, budget_spent=False, now=NOW)
    assert first.probe == ("a", "b") and set(first.skipped) == {"c"}
    assert first.skipped["c"] == "externalCallsPerHour 5 reached (4 call(s) this hour; a round needs 2 per endpoint)"
    used = calls_after(first, 4)
    again = plan_paid(["a", "b"], probes=2, cap=5, previous=used, budget_spent=False, now=NOW + 600)
    assert again.probe == () and again.used_before == 4
    next_hour = plan_paid(["a", "b"], probes=2, cap=5, previous=used, budget_spent=False, now=NOW + 3600)
    assert next_hour.probe == ("a", "b") and next_hour.used_before == 0 and next_hour.period_start == NOW + 3600
    off = plan_paid(["a"], probes=1, cap=0, previous=None, budget_spent=False, now=NOW)
    assert off.probe == () and "externalCallsPerHour is 0" in off.skipped["a"]


def test_a_spent_budget_stops_every_paid_probe() -> None:
    statuses = [BudgetStatus(namespace="ml", period_start=rfc3339(NOW), spent=5.0, limit=5.0, exhausted=True)]
    assert budget_spent(statuses, "ml") and not budget_spent(statuses, "other")
    stopped = plan_paid(["a"], probes=1, cap=60, previous=None, budget_spent=True, now=NOW)
    assert stopped.probe == () and "budget for external providers is spent" in stopped.skipped["a"]


def test_probe_tokens_grow_one_entry_that_the_ledger_and_the_report_count_once() -> None:
    gateway = GatewayTraffic(gateway="gw-8080", since=rfc3339(NOW - 100), tokens={"hosted": {"tier": "Overflow", "prompt": 10, "completion": 4}})
    after_one = with_probe_tokens([gateway], {"hosted": ("Overflow", Tokens(5, 2))}, now=NOW)
    after_two = with_probe_tokens(after_one, {"hosted": ("Overflow", Tokens(5, 2))}, now=NOW + 60)
    probes = next(t for t in after_two if t.gateway == PROBES_ENTRY)
    assert probes.since == rfc3339(NOW), "the first round's time stays the entry's since"
    assert (probes.tokens["hosted"].prompt, probes.tokens["hosted"].completion) == (10, 4)
    assert next(t for t in after_two if t.gateway == "gw-8080") == gateway, "the gateway's entry is left alone"
    assert with_probe_tokens([gateway], {}, now=NOW) == [gateway], "no tokens, no entry"

    service = ModelService.model_validate({
        "metadata": {"name": "svc", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}, "tier": "Overflow"}]},
    })
    endpoint = ModelEndpoint.model_validate({
        "metadata": {"name": "hosted", "namespace": "ml"},
        "spec": {"url": "https://api.example.com/v1", "pricing": {"perMillionInputTokens": 2.0, "perMillionOutputTokens": 6.0}},
    })
    budget = Budget.model_validate({"namespace": "ml", "limit": 1.0})
    before = ledger(budget, None, [service.model_copy(update={"status": service.status.model_copy(update={"traffic": after_one})})],
                    {"hosted": endpoint}, now=NOW)
    full = service.model_copy(update={"status": service.status.model_copy(update={"traffic": after_two})})
    after = ledger(budget, before, [full], {"hosted": endpoint}, now=NOW + 60)
    assert abs(after.spent - (20 * 2.0 + 8 * 6.0) / 1e6) < 1e-15, "gateway and probe tokens, each counted once"
    tokens, _ = metered(full)
    assert tokens["hosted"] == ("Overflow", Tokens(20, 8)), "the economics report prices the probes' tokens too"


def test_an_endpoint_skipped_this_round_keeps_its_entry() -> None:
    spec = QualitySpec.model_validate({"probes": [{"name": "p", "prompt": "hi", "contains": "x"}], "window": 3})
    one = fold(None, {"a": ("Primary", [ProbeResult("p", True, "", "x")]), "b": ("Overflow", [ProbeResult("p", False, "no", "y")])},
               spec, now=NOW)
    two = fold(one, {"a": ("Primary", [ProbeResult("p", True, "", "x")])}, spec, now=NOW + 60, kept=["b", "gone"])
    assert [e.name for e in two.endpoints] == ["a", "b"]
    assert two.endpoints[1] == one.endpoints[1]
    assert fold(one, {"a": ("Primary", [])}, spec, now=NOW + 60).endpoints[0].name == "a"
    assert PaidProbeCalls(period_start=rfc3339(NOW)).calls == 0
