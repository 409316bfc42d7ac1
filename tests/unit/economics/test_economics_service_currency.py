"""A service's external cost never adds providers priced in different currencies: it is given
in the capacity's currency, and a provider priced in another is named, as the namespace line
does (pure)."""

from __future__ import annotations

import pytest
from test_economics_namespace_span import IN_PRICE, _provider
from test_economics_occupancy import CLASSES, CLUSTERS, WINDOW, H
from test_economics_report_span import self_hosted

from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import rfc3339
from laneway.cli.economics import render
from laneway.control.economics import figures
from laneway.economics.report import Fleet, report, service_economics


def _service(tokens: dict[str, tuple[int, int, str]]) -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "chat"}}}]},
        "status": {"traffic": [{"gateway": "gw-1", "since": rfc3339(WINDOW.start + 6 * H), "tokens": {
            e: {"prompt": p, "completion": c, "tier": tier} for e, (p, c, tier) in tokens.items()}}]},
    })


def _fleet(service: ModelService, *providers: ModelEndpoint, with_capacity: bool = True) -> Fleet:
    endpoint, r = self_hosted()
    return Fleet(
        services=[service],
        endpoints=[endpoint, *providers] if with_capacity else list(providers),
        replicas=[r] if with_capacity else [],
        clusters=CLUSTERS,
        classes=CLASSES,
    )


MIXED = _service({
    "chat-0": (1_000_000, 0, "Primary"),
    "overflow": (1_000_000, 0, "Overflow"),
    "glass": (2_000_000, 0, "BreakGlass"),
})


def test_a_provider_in_another_currency_than_the_capacity_is_named_never_added() -> None:
    """A USD overflow provider and an EUR break-glass one: the old figure was 1.0 + 2.0 = 3.0."""
    fleet = _fleet(MIXED, _provider("overflow"), _provider("glass", "EUR"))
    e = service_economics(MIXED, fleet, WINDOW)
    assert e.currency == "USD"
    assert e.external_cost == pytest.approx(IN_PRICE)
    assert any(
        "glass" in p and "EUR" in p and "not added" in p for p in e.problems
    ), e.problems


def test_providers_all_in_the_capacitys_currency_are_summed_without_a_note() -> None:
    fleet = _fleet(MIXED, _provider("overflow"), _provider("glass"))
    e = service_economics(MIXED, fleet, WINDOW)
    assert e.currency == "USD" and e.external_cost == pytest.approx(3 * IN_PRICE)
    assert e.problems == []


def test_without_capacity_the_providers_shared_currency_names_the_figure() -> None:
    """No self-hosted replica: the figure is in the providers' own currency, never EUR labelled USD."""
    service = _service({"overflow": (1_000_000, 0, "Overflow"), "glass": (2_000_000, 0, "BreakGlass")})
    fleet = _fleet(service, _provider("overflow", "EUR"), _provider("glass", "EUR"), with_capacity=False)
    e = service_economics(service, fleet, WINDOW)
    assert e.currency == "EUR" and e.external_cost == pytest.approx(3 * IN_PRICE)
    assert e.problems == []


def test_the_status_figure_leaves_the_other_currency_out_and_the_report_names_it() -> None:
    fleet = _fleet(MIXED, _provider("overflow"), _provider("glass", "EUR"))
    status = figures(service_economics(MIXED, fleet, WINDOW), WINDOW.end - WINDOW.start)
    assert status.currency == "USD" and status.external_cost == pytest.approx(IN_PRICE)
    text = render(report(fleet, WINDOW))
    assert "  note: provider glass is priced in EUR, the spend in USD: its 2.0000 EUR is not added" in text
