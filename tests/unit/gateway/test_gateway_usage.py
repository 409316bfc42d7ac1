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
