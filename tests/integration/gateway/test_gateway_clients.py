"""The official OpenAI and Anthropic clients through the gateway to simulator engines."""

from __future__ import annotations

import anthropic
import openai
import pytest
from gateway_harness import Fleet, endpoint, service

from laneway.engines.sim import SimConfig, create_sim_app


@pytest.fixture
def sim_fleet(fleet: Fleet) -> Fleet:
    url = fleet.serve_app(create_sim_app(SimConfig(served_model_names=("llama",), ttft=0.0, itl=0.001, max_tokens=8)))
    fleet.put(
        endpoint("sim-0", url),
        service("chat", [{"selector": {"matchLabels": {"app": "m"}}}], modelNames=["llama"]),
    )
    return fleet


def test_openai_chat_streaming_and_embeddings_by_model_name(sim_fleet: Fleet) -> None:
    client = openai.OpenAI(base_url=f"{sim_fleet.address}/v1", api_key="unused", max_retries=0)
    chat = client.chat.completions.create(model="llama", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content
    assert chat.usage is not None and chat.usage.completion_tokens > 0

    chunks = list(client.chat.completions.create(model="llama", messages=[{"role": "user", "content": "hi"}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    # The gateway asked for usage on the caller's behalf and dropped the extra chunk again.
    assert all(c.choices for c in chunks)

    emb = client.embeddings.create(model="llama", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) > 0

    models = client.models.list()
    assert {m.id for m in models.data} == {"chat", "llama"}


def test_openai_client_on_the_service_path(sim_fleet: Fleet) -> None:
    client = openai.OpenAI(base_url=f"{sim_fleet.address}/ml/chat/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="llama", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_anthropic_messages_plain_and_streamed(sim_fleet: Fleet) -> None:
    client = anthropic.Anthropic(base_url=f"{sim_fleet.address}/ml/chat", api_key="unused", max_retries=0)
    msg = client.messages.create(model="llama", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert msg.content and msg.usage.output_tokens > 0
    with client.messages.stream(model="llama", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.usage.output_tokens > 0

    metrics = sim_fleet.metrics()
    assert 'laneway_gateway_tokens_total{endpoint="sim-0",kind="completion",namespace="ml",service="chat",tier="Primary"}' in metrics
