"""A ModelService is Ready only when a primary endpoint is routable; overflow alone says so.

Why: a service whose only routable endpoint was an overflow provider (no replica running, the
provider maybe unreachable) showed READY True.
"""

from __future__ import annotations

from laneway.api.kinds.serving import ModelEndpoint, ModelService, ModelServiceStatus
from laneway.api.meta import ObjectKey
from laneway.gateway.status import status_for
from laneway.gateway.table import build_table

KEY = ObjectKey("ml", "chat")
SERVICE = ModelService.model_validate({
    "metadata": {"name": "chat", "namespace": "ml"},
    "spec": {"endpoints": [
        {"name": "own", "selector": {"matchLabels": {"d": "own"}}},
        {"name": "spill", "tier": "Overflow", "selector": {"matchLabels": {"d": "spill"}}},
    ]},
})


def _endpoint(name: str, label: str) -> ModelEndpoint:
    return ModelEndpoint.model_validate({
        "metadata": {"name": name, "namespace": "ml", "labels": {"d": label}},
        "spec": {"url": f"https://{name}.example.com/v1"},
    })


def _ready(endpoints: list[ModelEndpoint]) -> tuple[str, str, str]:
    route = build_table(services=[SERVICE], endpoints=endpoints, secrets=[]).services[KEY]
    st = status_for(ModelServiceStatus(), route, None, address="http://gw/ml/chat", identity="gw-1", window=300)
    c = next(c for c in st.conditions if c.type == "Ready")
    return c.status, c.reason, c.message


def test_overflow_alone_is_not_ready() -> None:
    status, reason, message = _ready([_endpoint("provider", "spill")])
    assert (status, reason) == ("False", "OverflowOnly")
    assert "no primary endpoint" in message and "provider" in message


def test_a_routable_primary_is_ready() -> None:
    status, reason, _ = _ready([_endpoint("provider", "spill"), _endpoint("mine", "own")])
    assert (status, reason) == ("True", "EndpointsReady")
