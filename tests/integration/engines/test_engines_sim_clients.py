"""The simulator through the official `openai` and `anthropic` clients, as a real process."""

from __future__ import annotations

import shutil

import anthropic
import httpx
import openai
import pytest
from engines_helpers import engine_process  # type: ignore[import-not-found]


@pytest.fixture
def oai(sim):
    client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="unused", max_retries=0, timeout=20)
    yield client
    client.close()


@pytest.fixture
def claude(sim):
    client = anthropic.Anthropic(base_url=sim.url, api_key="unused", max_retries=0, timeout=20)
    yield client
    client.close()


MESSAGES = [{"role": "user", "content": "Where does the lane go?"}]


def test_models(oai):
    assert [m.id for m in oai.models.list()] == ["sim-model"]


def test_chat_with_usage(oai):
    r = oai.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=5)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5 and r.usage.prompt_tokens > 0
    assert r.choices[0].message.content == oai.chat.completions.create(
        model="sim-model", messages=MESSAGES, max_tokens=5).choices[0].message.content


def test_chat_stream_with_usage_chunk(oai):
    chunks = list(oai.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True,
                                              stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    plain = oai.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert plain.choices[0].message.content == text


def test_stream_without_include_usage_has_no_usage_chunk(oai):
    chunks = list(oai.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True, max_tokens=3))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_completions_plain_and_streamed(oai):
    r = oai.completions.create(model="sim-model", prompt="The lane", max_tokens=4)
    assert r.usage.completion_tokens == 4 and r.choices[0].text
    chunks = list(oai.completions.create(model="sim-model", prompt="The lane", max_tokens=4, stream=True,
                                         stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == r.choices[0].text
    assert chunks[-1].usage.total_tokens == r.usage.total_tokens


def test_embeddings_float_and_base64(oai):
    default = oai.embeddings.create(model="sim-model", input=["one", "two"])  # the client asks for base64
    floats = oai.embeddings.create(model="sim-model", input=["one", "two"], encoding_format="float")
    assert len(default.data) == 2 and len(default.data[0].embedding) == 384
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert default.usage.prompt_tokens == 2


def test_openai_errors_are_clean(oai):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        oai.chat.completions.create(model="other", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="sim-model", messages=MESSAGES, max_tokens=10_000)
    assert "maximum context length" in str(e.value)


def test_bad_json_is_a_400_in_openai_shape(sim):
    r = httpx.post(f"{sim.url}/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = httpx.get(f"{sim.url}/v1/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


def test_anthropic_message(claude):
    m = claude.messages.create(model="sim-model", max_tokens=8, messages=MESSAGES)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 8 and m.content[0].text
    m = claude.messages.create(model="sim-model", max_tokens=100, system="be brief", messages=MESSAGES)
    assert m.stop_reason == "end_turn" and m.usage.output_tokens == 12


def test_anthropic_stream(claude):
    with claude.messages.stream(model="sim-model", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].text == text and final.usage.output_tokens == 12 and final.stop_reason == "end_turn"


def test_anthropic_error_shape(claude):
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="other", max_tokens=8, messages=MESSAGES)
    assert e.value.body["error"]["type"] == "not_found_error"


def test_the_laneway_script_runs_the_sim(tmp_path):
    script = shutil.which("laneway")
    if script is None:
        pytest.skip("the `laneway` script is not on PATH (pip install -e . puts it there)")
    with engine_process(["engine", "sim", "--model", "org/some-model"], tmp_path, command=[script]) as p:
        assert httpx.get(f"{p.url}/v1/models").json()["data"][0]["id"] == "org/some-model"
