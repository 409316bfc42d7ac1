from __future__ import annotations

import json

from laneway.gateway.usage import SSEUsageScanner, ask_for_usage, usage_from_body


def test_usage_from_openai_and_anthropic_bodies() -> None:
    u = usage_from_body(json.dumps({"usage": {"prompt_tokens": 4, "completion_tokens": 6}}).encode())
    assert (u.prompt_tokens, u.completion_tokens) == (4, 6)
    u = usage_from_body(json.dumps({"usage": {"input_tokens": 3, "output_tokens": 9}}).encode())
    assert u.total == 12
    assert not usage_from_body(b"not json").seen


def test_scanner_reads_usage_across_chunk_boundaries_and_forwards_exactly() -> None:
    events = [
        b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n',
        b"data: [DONE]\n\n",
    ]
    raw = b"".join(events)
    for split in range(1, len(raw)):
        s = SSEUsageScanner()
        out = s.feed(raw[:split]) + s.feed(raw[split:]) + s.flush()
        assert out == raw and (s.usage.prompt_tokens, s.usage.completion_tokens) == (5, 2)
    s = SSEUsageScanner(drop_usage_chunk=True)
    assert s.feed(raw) == events[0] + events[2]


def test_scanner_reads_anthropic_events_with_crlf() -> None:
    s = SSEUsageScanner(drop_usage_chunk=True)
    raw = (
        b'event: message_start\r\ndata: {"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}}\r\n\r\n'
        b'event: message_delta\r\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\r\n\r\n'
    )
    assert s.feed(raw) == raw  # Anthropic's events are never dropped
    assert (s.usage.prompt_tokens, s.usage.completion_tokens) == (11, 7)


def test_gateway_asks_for_stream_usage_only_when_needed() -> None:
    p = {"stream": True}
    assert ask_for_usage(p, "/v1/chat/completions") and p["stream_options"] == {"include_usage": True}
    assert not ask_for_usage({"stream": True, "stream_options": {"include_usage": True}}, "/v1/chat/completions")
    assert not ask_for_usage({"stream": False}, "/v1/chat/completions")
    assert not ask_for_usage({"stream": True}, "/v1/messages")


def _whole_body_usage(body: bytes) -> tuple[int, int, bool]:
    """The reference: parse the whole body, read its top-level usage (a body that does not
    spell `"usage"` in ASCII-compatible bytes, UTF-16 say, is not parsed at all)."""
    from laneway.gateway.usage import Usage

    u = Usage()
    if b'"usage"' not in body:
        return (0, 0, False)
    try:
        doc = json.loads(body)
    except ValueError:
        return (0, 0, False)
    if isinstance(doc, dict):
        u.absorb(doc.get("usage"))
    return (u.prompt_tokens, u.completion_tokens, u.seen)


def test_usage_from_body_matches_a_whole_parse_whatever_the_shape() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    bodies = [
        json.dumps({"id": "x", "choices": [], "usage": usage}).encode(),  # OpenAI: usage last
        json.dumps({"id": "x", "choices": [], "usage": usage}, indent=2).encode() + b"\n",  # pretty, trailing newline
        json.dumps({"id": "x", "usage": usage, "prompt_logprobs": None}).encode(),  # vLLM: fields after usage
        json.dumps({"id": "x", "choices": [{"message": {"content": '"usage": {"prompt_tokens": 99}}'}}]}).encode(),
        json.dumps({"id": "x", "usage": usage, "note": 'x, "usage": {"prompt_tokens": 99}}'}).encode(),
        json.dumps({"id": "x", "meta": {"usage": {"prompt_tokens": 99, "completion_tokens": 1}}}).encode(),  # nested only
        json.dumps({"usage": {"usage": {"prompt_tokens": 99}}}).encode(),
        b'{"usage": {"prompt_tokens": 1, "completion_tokens": 1}, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}',
        json.dumps({"id": "x", "usage": None}).encode(),
        json.dumps({"id": "x", "usage": [1, 2]}).encode(),
        json.dumps({"id": "x", "choices": [], "usage": usage}).encode("utf-16"),  # JSON may be UTF-16
        json.dumps({"id": "é", "usage": usage}, ensure_ascii=False).encode(),
        b'{"id": "x", "usage": {"prompt_tokens": 5, "completion_tokens": 2}',  # cut short
        b'{"id": "x", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}}',  # one brace too many
        b"not json",
        b'["usage"]',
    ]
    for body in bodies:
        got = usage_from_body(body)
        assert (got.prompt_tokens, got.completion_tokens, got.seen) == _whole_body_usage(body), body
