import json

from laneway.engines.sim import responses as R
from laneway.engines.sim.requests import EmbeddingRequest, RequestError


def events(raw: bytes):
    out = []
    for frame in raw.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        out.append((lines.get("event"), json.loads(lines["data"])))
    return out


def test_openai_error_shape():
    body = R.openai_error(RequestError("messages: bad", param="messages"))
    assert body == {"error": {"message": "messages: bad", "type": "BadRequestError", "param": "messages",
                              "code": 400}}


def test_anthropic_error_shape():
    body = R.anthropic_error(RequestError("nope", status=404, kind="NotFoundError"))
    assert body == {"type": "error", "error": {"type": "not_found_error", "message": "nope"}}


def test_chat_completion_reports_usage():
    body = R.chat_completion("id", "m", 1, "hi there", "length", 7, 2)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi there", "tool_calls": []}
    assert body["usage"]["total_tokens"] == 9


def test_usage_chunk_has_no_choices():
    chunk = R.usage_chunk("id", "chat.completion.chunk", "m", 1, 3, 4)
    assert chunk["choices"] == [] and chunk["usage"]["completion_tokens"] == 4


def test_sse_frames():
    assert R.sse_data({"a": 1}) == b'data: {"a":1}\n\n'
    assert R.sse_event("ping", {}) == b"event: ping\ndata: {}\n\n"


def test_anthropic_stream_event_order():
    raw = R.message_start("msg_1", "m", 5) + R.message_delta_text("hi") + R.message_end("stop", 5, 1)
    names = [e for e, _ in events(raw)]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    delta = dict(events(raw))["message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] == 1


def test_message_stop_reasons():
    assert R.message("id", "m", "x", "length", 1, 1)["stop_reason"] == "max_tokens"
    assert R.message("id", "m", "x", "stop", 1, 1)["stop_reason"] == "end_turn"


def test_embeddings_truncate_to_dimensions_and_renormalise():
    req = EmbeddingRequest(model="m", inputs=("a", "b"), input_tokens=(1, 1), encoding_format="float",
                           dimensions=8)
    body = R.embeddings("id", 1, req, 64)
    assert [len(d["embedding"]) for d in body["data"]] == [8, 8]
    assert abs(sum(v * v for v in body["data"][0]["embedding"]) - 1) < 1e-9
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2, "completion_tokens": 0,
                             "prompt_tokens_details": None}


def test_model_list():
    body = R.model_list(("a", "b"), created=1, max_model_len=10)
    assert [m["id"] for m in body["data"]] == ["a", "b"] and body["data"][1]["root"] == "a"
