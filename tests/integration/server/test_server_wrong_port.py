"""An inference request sent to the API's port instead of the gateway's is told where to go
(#15: a newcomer's OpenAI client pointed at :8470 got "nothing at /v1/chat/completions")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_harness import RunningApi, run_api

from laneway.server.middleware import looks_like_inference
from laneway.store.memory import MemoryStore


@pytest.fixture
def api() -> Iterator[RunningApi]:
    yield from run_api(MemoryStore())


def test_an_openai_request_on_the_api_port_names_the_gateway(api: RunningApi) -> None:
    with api.client(api.admin_token) as client:
        for path in ("/v1/chat/completions", "/ml-team/chat/v1/models"):
            response = client.post(path, json={"model": "x", "messages": []})
            assert response.status_code == 404, response.text
            message = response.json()["message"]
            assert "not its gateway" in message and "`gateway`" in message and "8471" in message, message
        unsigned = api.client().post("/v1/chat/completions", json={})
        assert unsigned.status_code == 404 and "not its gateway" in unsigned.json()["message"], "no token needed to be told"
        other = client.get("/nothing/here")
        assert other.status_code == 404 and "resources live under /apis/laneway.dev/v1alpha1" in other.json()["message"]


def test_which_paths_look_like_inference() -> None:
    assert looks_like_inference("/v1/chat/completions") and looks_like_inference("/demo/chat/v1/messages")
    assert not looks_like_inference("/apis/laneway.dev/v1alpha1/modeldeployments")
    assert not looks_like_inference("/api/v1/namespaces") and not looks_like_inference("/ui/")
