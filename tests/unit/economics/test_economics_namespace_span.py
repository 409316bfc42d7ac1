"""A namespace's spend: its replicas' capacity and its services' external tokens over the same
period, from when the token totals began (inside the window or before it), as a service's
figures are (pure)."""

from __future__ import annotations

import pytest
from test_economics_occupancy import CLASSES, CLUSTERS, WINDOW, H, replica

from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import rfc3339
from laneway.economics import Window
from laneway.economics.report import Fleet, report

IN_PRICE, OUT_PRICE = 1.0, 3.0


def _provider(name: str, currency: str = "USD") -> ModelEndpoint:
    return ModelEndpoint.model_validate({
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"url": "http://127.0.0.1:1", "pricing": {
            "perMillionInputTokens": IN_PRICE, "perMillionOutputTokens": OUT_PRICE, "currency": currency}},
    })


def _service(name: str, since: float | None, tokens: dict[str, tuple[int, int]]) -> ModelService:
    traffic = [] if since is None else [{
        "gateway": "gw-1", "since": rfc3339(since),
        "tokens": {e: {"prompt": p, "completion": c, "tier": "Overflow"} for e, (p, c) in tokens.items()},
    }]
    return ModelService.model_validate({
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": name}}}]},
        "status": {"traffic": traffic},
    })


def _fleet(*services: ModelService, providers: tuple[ModelEndpoint, ...] = (_provider("hosted"),)) -> Fleet:
    """One replica holding 2 devices at 2.5 a device-hour (5.0 an hour) since long before the
    window, not behind any of the services: a namespace pays for it whether traffic reached it or not."""
    r = replica("idle-0", "a", "dev", created=rfc3339(WINDOW.start - 100 * H))
    return Fleet(services=list(services), endpoints=list(providers), replicas=[r], clusters=CLUSTERS, classes=CLASSES)


def test_totals_carried_from_before_the_window_price_capacity_over_the_same_30_hours() -> None:
    """The external tokens are 30 h of tokens (a gateway carried them over restarts): the capacity
    beside them is 30 h of capacity, not the 10 h window's (the old figure: 10 x 5.0 = 50)."""
    fleet = _fleet(_service("chat", WINDOW.start - 20 * H, {"hosted": (600_000, 200_000)}))
    [spend] = report(fleet, WINDOW).namespaces
    assert spend.self_hosted == pytest.approx(30 * 5.0)
    assert spend.span == Window(WINDOW.start - 20 * H, WINDOW.end)
    assert spend.external == pytest.approx(0.6 * IN_PRICE + 0.2 * OUT_PRICE)
    assert spend.currency == "USD" and spend.problems == []


def test_totals_begun_inside_the_window_price_capacity_from_their_since() -> None:
    fleet = _fleet(_service("chat", WINDOW.start + 6 * H, {"hosted": (1_000_000, 0)}))
    [spend] = report(fleet, WINDOW).namespaces
    assert spend.self_hosted == pytest.approx(4 * 5.0)
    assert spend.span == Window(WINDOW.start + 6 * H, WINDOW.end)
    assert spend.external == pytest.approx(IN_PRICE)


def test_the_span_is_the_earliest_since_of_any_of_the_namespaces_services() -> None:
    """Two services, one metered for 30 h, one for 4 h: both services' tokens fall inside the
    30 h, so capacity is priced over 30 h, and each service keeps its own span."""
    fleet = _fleet(
        _service("old", WINDOW.start - 20 * H, {"hosted": (1_000_000, 0)}),
        _service("new", WINDOW.start + 6 * H, {"hosted": (0, 1_000_000)}),
    )
    r = report(fleet, WINDOW)
    [spend] = r.namespaces
    assert spend.span.start == WINDOW.start - 20 * H
    assert spend.self_hosted == pytest.approx(30 * 5.0)
    assert spend.external == pytest.approx(IN_PRICE + OUT_PRICE)
    assert {s.name: s.span.hours for s in r.services} == {"old": pytest.approx(30), "new": pytest.approx(4)}


def test_no_token_totals_price_capacity_over_the_window() -> None:
    [spend] = report(_fleet(_service("chat", None, {})), WINDOW).namespaces
    assert spend.span == WINDOW
    assert spend.self_hosted == pytest.approx(10 * 5.0) and spend.external == 0.0


def test_one_service_named_still_gives_the_whole_namespaces_spend() -> None:
    """`laneway economics ms/chat`: the namespace line is the namespace's, so the other service's
    external tokens count too (the capacity is the whole namespace's)."""
    fleet = _fleet(
        _service("chat", WINDOW.start + 6 * H, {"hosted": (1_000_000, 0)}),
        _service("other", WINDOW.start + 6 * H, {"hosted": (1_000_000, 0)}),
    )
    r = report(fleet, WINDOW, service="chat")
    assert [s.name for s in r.services] == ["chat"]
    assert r.namespaces[0].external == pytest.approx(2 * IN_PRICE)


def test_a_provider_in_another_currency_is_named_never_added() -> None:
    fleet = _fleet(
        _service("chat", WINDOW.start + 6 * H, {"hosted": (1_000_000, 0), "euro": (1_000_000, 0)}),
        providers=(_provider("hosted"), _provider("euro", "EUR")),
    )
    [spend] = report(fleet, WINDOW).namespaces
    assert spend.currency == "USD" and spend.external == pytest.approx(IN_PRICE)
    assert any("euro" in p and "EUR" in p and "not added" in p for p in spend.problems), spend.problems


def test_the_table_prints_each_namespaces_span_and_notes() -> None:
    from laneway.cli.economics import render

    fleet = _fleet(
        _service("chat", WINDOW.start - 20 * H, {"hosted": (1_000_000, 0), "euro": (1_000_000, 0)}),
        providers=(_provider("hosted"), _provider("euro", "EUR")),
    )
    text = render(report(fleet, WINDOW))
    row = next(line for line in text.splitlines() if line.startswith("ml "))
    assert row.split() == ["ml", "30.00", "h", "150.0000", "USD", "1.0000", "USD"]
    assert "note (ml): provider euro is priced in EUR" in text
