"""A service's economics span: capacity is priced over the same period its token totals cover,
whether the gateways began metering inside the window or before it (pure)."""

from __future__ import annotations

import pytest
from test_economics_occupancy import CLASSES, CLUSTERS, WINDOW, H, replica

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import rfc3339
from laneway.economics import Window
from laneway.economics.report import Fleet, service_economics


def self_hosted() -> tuple[ModelEndpoint, ModelReplica]:
    """Replica chat-0 of deployment chat, 2 devices at 2.5 a device-hour since long before the
    window, and the endpoint it owns."""
    r = replica("chat-0", "a", "dev", created=rfc3339(WINDOW.start - 100 * H))
    r.metadata.labels["laneway.dev/deployment"] = "chat"
    endpoint = ModelEndpoint.model_validate({
        "metadata": {"name": "chat-0", "namespace": "ml",
                     "ownerReferences": [{"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": "chat-0",
                                          "uid": "u", "controller": True}]},
        "spec": {"url": "http://127.0.0.1:1"},
    })
    return endpoint, r


def _fleet(since: float, prompt: int, completion: int) -> tuple[ModelService, Fleet]:
    endpoint, r = self_hosted()
    service = ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]},
        "status": {"traffic": [{"gateway": "gw-1", "since": rfc3339(since),
                                "tokens": {"chat-0": {"prompt": prompt, "completion": completion}}}]},
    })
    return service, Fleet(services=[service], endpoints=[endpoint], replicas=[r], clusters=CLUSTERS, classes=CLASSES)


def test_totals_begun_inside_the_window_price_capacity_from_their_since() -> None:
    service, fleet = _fleet(WINDOW.start + 6 * H, 600_000, 400_000)
    e = service_economics(service, fleet, WINDOW)
    assert e.span == Window(WINDOW.start + 6 * H, WINDOW.end)
    assert e.capacity_cost == pytest.approx(4 * 2 * 2.5), "4 h of 2 devices at 2.5 a device-hour"
    assert e.cost_per_million == pytest.approx(20.0)


def test_totals_begun_before_the_window_price_capacity_from_their_since_too() -> None:
    """A gateway that carried its totals over restarts for 30 h: its tokens are 30 h of tokens,
    so they are set against 30 h of capacity, not the 10 h window's."""
    service, fleet = _fleet(WINDOW.start - 20 * H, 600_000, 400_000)
    e = service_economics(service, fleet, WINDOW)
    assert e.span == Window(WINDOW.start - 20 * H, WINDOW.end)
    assert e.capacity_cost == pytest.approx(30 * 2 * 2.5)
    assert e.cost_per_million == pytest.approx(150.0)
    assert e.tokens_per_hour == pytest.approx(1_000_000 / 30)
