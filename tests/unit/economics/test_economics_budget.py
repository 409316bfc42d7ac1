"""The budget ledger: growth counted once across reads and gateways, restarts, periods."""

from __future__ import annotations

import pytest

from laneway.api.kinds.platform import Budget, BudgetStatus
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.economics.budget import ledger

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PRICED = ModelEndpoint.model_validate(
    {
        "metadata": {"name": "hosted", "namespace": "ml"},
        "spec": {"url": "https://api.example.com/v1", "pricing": {"perMillionInputTokens": 2.0, "perMillionOutputTokens": 6.0}},
    }
)
OWN = ModelEndpoint.model_validate(
    {
        "metadata": {
            "name": "chat-0",
            "namespace": "ml",
            "ownerReferences": [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": "chat-0", "uid": "u", "controller": True}],
        },
        # A team cannot make its own replica a paid provider: replica endpoints are capacity.
        "spec": {"url": "http://127.0.0.1:9/v1", "pricing": {"perMillionInputTokens": 900.0, "perMillionOutputTokens": 900.0}},
    }
)
ENDPOINTS = {"hosted": PRICED, "chat-0": OWN}
BUDGET = Budget(namespace="ml", limit=10.0, period="1d", warn_at=0.5)


def service(*gateways: tuple[str, str, int, int]) -> ModelService:
    traffic = [
        {"gateway": g, "since": since, "tokens": {"hosted": {"tier": "Overflow", "prompt": p, "completion": c}, "chat-0": {"prompt": p, "completion": c}}}
        for g, since, p, c in gateways
    ]
    return ModelService.model_validate(
        {"metadata": {"name": "chat", "namespace": "ml"}, "spec": {"endpoints": [{"selector": {"matchLabels": {"a": "b"}}}]}, "status": {"traffic": traffic}}
    )


def test_growth_is_counted_once_per_gateway_and_never_twice() -> None:
    first = ledger(BUDGET, None, [service(("gw-a", "2026-01-01T00:00:00Z", 1_000_000, 0))], ENDPOINTS, now=T0 + 60)
    assert first.spent == pytest.approx(2.0) and not first.approached
    again = ledger(BUDGET, first, [service(("gw-a", "2026-01-01T00:00:00Z", 1_000_000, 0))], ENDPOINTS, now=T0 + 120)
    assert again.spent == pytest.approx(2.0)
    two = ledger(
        BUDGET,
        again,
        [service(("gw-a", "2026-01-01T00:00:00Z", 1_500_000, 0), ("gw-b", "2026-01-01T00:00:05Z", 0, 500_000))],
        ENDPOINTS,
        now=T0 + 180,
    )
    assert two.spent == pytest.approx(2.0 + 1.0 + 3.0) and two.approached and not two.exhausted


def test_a_restarted_gateway_counts_from_zero_and_the_limit_is_reached_at_equality() -> None:
    first = ledger(BUDGET, None, [service(("gw-a", "2026-01-01T00:00:00Z", 2_000_000, 0))], ENDPOINTS, now=T0 + 60)
    restarted = ledger(BUDGET, first, [service(("gw-a", "2026-01-01T01:00:00Z", 3_000_000, 0))], ENDPOINTS, now=T0 + 3700)
    assert restarted.spent == pytest.approx(4.0 + 6.0)
    assert restarted.exhausted, "spent == limit is spent"


def test_a_new_period_starts_at_zero_without_recounting() -> None:
    first = ledger(BUDGET, None, [service(("gw-a", "2026-01-01T00:00:00Z", 5_000_000, 0))], ENDPOINTS, now=T0)
    assert first.exhausted
    later = ledger(BUDGET, first, [service(("gw-a", "2026-01-01T00:00:00Z", 5_500_000, 0))], ENDPOINTS, now=T0 + 86_400 * 2 + 5)
    assert later.period_start == "2026-01-03T00:00:00Z"
    assert later.spent == pytest.approx(1.0) and not later.exhausted


def test_other_currencies_and_unknown_endpoints_are_not_priced() -> None:
    eur = Budget(namespace="ml", limit=1.0, currency="EUR")
    status = ledger(eur, None, [service(("gw-a", "2026-01-01T00:00:00Z", 9_000_000, 0))], ENDPOINTS, now=T0)
    assert isinstance(status, BudgetStatus) and status.spent == 0.0
    assert ledger(BUDGET, None, [service(("gw-a", None, 9, 9))], {}, now=T0).spent == 0.0  # type: ignore[arg-type]


def test_budget_period_and_namespace_are_checked() -> None:
    with pytest.raises(ValueError, match="no time at all"):
        Budget(namespace="ml", limit=1.0, period="0s")
    with pytest.raises(ValueError, match="namespace"):
        Budget(namespace="Not_A_Label", limit=1.0)
