import pytest

from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.requests import (
    GenerationRequest,
    RequestError,
    decode_json,
    parse_chat,
    parse_completion,
    parse_embedding,
    parse_messages,
    plan_output,
)

CONFIG = SimConfig(served_model_names=("m", "alias"), max_tokens=10, max_model_len=100)


def chat(**extra):
    return {"model": "m", "messages": [{"role": "user", "content": "hello there"}], **extra}


def test_chat_parses_into_one_sequence():
    r = parse_chat(chat(max_tokens=5, stream=True, stream_options={"include_usage": True}), CONFIG)
    assert (r.api, r.model, r.max_tokens, r.stream, r.include_usage) == ("chat", "m", 5, True, True)
    assert r.prompt_tokens > 2


def test_chat_accepts_content_parts_and_unknown_fields():
    body = {"model": "alias", "temperature": 0.3, "tools": [],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert parse_chat(body, CONFIG).model == "alias"


def test_max_completion_tokens_wins_over_max_tokens():
    assert parse_chat(chat(max_tokens=5, max_completion_tokens=7), CONFIG).max_tokens == 7


def test_omitted_model_means_the_first_served_name():
    body = chat()
    del body["model"]
    assert parse_chat(body, CONFIG).model == "m"


def test_unknown_model_is_404_naming_the_served_ones():
    with pytest.raises(RequestError) as e:
        parse_chat(chat(model="other"), CONFIG)
    assert e.value.status == 404 and e.value.param == "model" and "alias" in e.value.message


@pytest.mark.parametrize(
    "body, where",
    [
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m"}, "messages"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(stream_options={"include_usage": True}), "stream_options"),
        (chat(n=2), "n"),
        ({"model": "m", "messages": [{"content": "no role"}]}, "messages.0.role"),
    ],
)
def test_bad_chat_requests_say_which_field(body, where):
    with pytest.raises(RequestError) as e:
        parse_chat(body, CONFIG)
    assert e.value.status == 400
    assert e.value.message.startswith(where) or e.value.param == where


def test_body_must_be_json_object():
    with pytest.raises(RequestError, match="not valid JSON"):
        decode_json(b"{nope")
    with pytest.raises(RequestError, match="empty"):
        decode_json(b"  ")
    with pytest.raises(RequestError, match="JSON object"):
        parse_chat([1, 2], CONFIG)


def test_completion_prompts_as_text_list_or_token_ids():
    assert parse_completion({"prompt": "a b c"}, CONFIG).prompt_tokens == 3
    assert parse_completion({"prompt": ["a b"]}, CONFIG).prompt_tokens == 2
    assert parse_completion({"prompt": [1, 2, 3, 4]}, CONFIG).prompt_tokens == 4
    assert parse_completion({"prompt": [[1, 2]]}, CONFIG).prompt_tokens == 2


def test_completion_refuses_several_or_empty_prompts():
    with pytest.raises(RequestError, match="one prompt per request"):
        parse_completion({"prompt": ["a", "b"]}, CONFIG)
    with pytest.raises(RequestError, match="empty"):
        parse_completion({"prompt": ""}, CONFIG)


def test_messages_need_max_tokens_and_count_the_system_prompt():
    with pytest.raises(RequestError, match="max_tokens"):
        parse_messages({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, CONFIG)
    plain = parse_messages({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, CONFIG)
    with_system = parse_messages({"model": "m", "max_tokens": 5, "system": "be brief",
                                  "messages": [{"role": "user", "content": "hi"}]}, CONFIG)
    assert with_system.prompt_tokens > plain.prompt_tokens
    assert plain.api == "messages" and plain.include_usage


def test_embedding_inputs():
    r = parse_embedding({"input": ["a b", "c"]}, CONFIG)
    assert r.inputs == ("a b", "c") and r.input_tokens == (2, 1) and r.encoding_format == "float"
    assert parse_embedding({"input": "one"}, CONFIG).inputs == ("one",)
    assert parse_embedding({"input": [5, 6]}, CONFIG).input_tokens == (2,)
    with pytest.raises(RequestError, match="dimensions"):
        parse_embedding({"input": "x", "dimensions": 10_000}, CONFIG)
    with pytest.raises(RequestError, match="input"):
        parse_embedding({"input": []}, CONFIG)


def gen(max_tokens=None, prompt_tokens=5, ignore_eos=False):
    return GenerationRequest(api="chat", model="m", prompt_key="k", prompt_tokens=prompt_tokens,
                             max_tokens=max_tokens, ignore_eos=ignore_eos)


def test_plan_output_natural_length_and_limits():
    assert (plan_output(gen(), CONFIG).tokens, plan_output(gen(), CONFIG).finish_reason) == (10, "stop")
    assert (plan_output(gen(3), CONFIG).tokens, plan_output(gen(3), CONFIG).finish_reason) == (3, "length")
    assert plan_output(gen(50), CONFIG).tokens == 10
    assert plan_output(gen(50), CONFIG).finish_reason == "stop"
    assert (plan_output(gen(50, ignore_eos=True), CONFIG).tokens) == 50


def test_plan_output_refuses_what_does_not_fit_the_context():
    with pytest.raises(RequestError, match="maximum context length is 100 tokens") as e:
        plan_output(gen(max_tokens=60, prompt_tokens=50), CONFIG)
    assert e.value.status == 400 and e.value.param == "messages"
