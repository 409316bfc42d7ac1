"""The economics and budget gauges come from the routing table the gateway already holds."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import ModelService
from laneway.gateway.economics_metrics import EconomicsCollector
from laneway.gateway.table import build_table


def test_gauges_carry_the_status_figures() -> None:
    service = ModelService.model_validate(
        {
            "metadata": {"name": "chat", "namespace": "ml"},
            "spec": {"endpoints": [{"selector": {"matchLabels": {"a": "b"}}}]},
            "status": {
                "economics": {
                    "windowSeconds": 604800.0,
                    "spanStart": "2026-01-01T00:00:00Z",
                    "capacityCost": 12.5,
                    "costPerMillionTokens": 3.25,
                    "sameTokensBought": 4.0,
                    "breakEvenTokensPerHour": 1000.0,
                },
                "quality": {"observedAt": "2026-01-01T00:00:00Z", "endpoints": [{"name": "e1", "passRate": 0.5, "failing": True}]},
            },
        }
    )
    gateway = InferenceGateway.model_validate(
        {
            "metadata": {"name": "gw"},
            "status": {"budgets": [{"namespace": "ml", "periodStart": "2026-01-01T00:00:00Z", "spent": 7.5, "limit": 10.0, "approached": True}]},
        }
    )
    table = build_table(services=[service], endpoints=[], secrets=[], gateways=[gateway])
    registry = CollectorRegistry()
    registry.register(EconomicsCollector(lambda: table))
    text = generate_latest(registry).decode()
    assert 'laneway_service_cost_per_million_tokens{currency="USD",namespace="ml",service="chat"} 3.25' in text
    assert 'laneway_service_capacity_cost{currency="USD",namespace="ml",service="chat"} 12.5' in text
    assert 'laneway_service_same_tokens_bought_cost{currency="USD",namespace="ml",service="chat"} 4.0' in text
    assert 'laneway_budget_spent{currency="USD",namespace="ml"} 7.5' in text
    assert 'laneway_budget_exhausted{namespace="ml"} 0.0' in text
    assert 'laneway_budget_approached{namespace="ml"} 1.0' in text
    assert 'laneway_quality_pass_rate{endpoint="e1",namespace="ml",service="chat",tier="Primary"} 0.5' in text
    assert 'laneway_quality_failing{endpoint="e1",namespace="ml",service="chat",tier="Primary"} 1.0' in text
