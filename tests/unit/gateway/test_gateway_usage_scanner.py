"""The stream usage scanner on OpenAI's real chunk shape, and the usage request spliced into bodies.

OpenAI's API puts `"usage": null` on every chunk once a stream asked for usage; the scanner
must forward those chunks unchanged without parsing them, parse only the events that carry a
usage, keep metering exact, and forward byte for byte whatever it does not drop.
"""

from __future__ import annotations

import json

import pytest

from laneway.gateway.usage import SSEUsageScanner, body_asking_usage


def _chunk(text: str, *, null_usage: bool = True, sep: bytes = b"\n\n") -> bytes:
    doc: dict[str, object] = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    if null_usage:
        doc["usage"] = None
    return b"data: " + json.dumps(doc).encode() + sep


USAGE = b'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":4}}\n\n'
DONE = b"data: [DONE]\n\n"
CONTENT = [_chunk(f"t{i}") for i in range(4)]
STREAM = b"".join(CONTENT) + USAGE + DONE


class CountingScanner(SSEUsageScanner):
    __slots__ = ("parsed",)

    def __init__(self, **kw: bool) -> None:
        super().__init__(**kw)
        self.parsed = 0

    def _read(self, event: bytes) -> bool:
        self.parsed += 1
        return super()._read(event)


def test_null_usage_chunks_pass_unparsed_and_the_usage_chunk_is_read_once() -> None:
    s = CountingScanner(drop_usage_chunk=False)
    out = b"".join(s.feed(c) for c in [*CONTENT, USAGE, DONE]) + s.flush()
    assert out == STREAM
    assert s.parsed == 1
    assert (s.usage.prompt_tokens, s.usage.completion_tokens) == (11, 4)


def test_every_split_point_forwards_exactly_and_meters_exactly() -> None:
    for drop in (False, True):
        want = b"".join(CONTENT) + (b"" if drop else USAGE) + DONE
        for cut in range(1, len(STREAM)):
            s = SSEUsageScanner(drop_usage_chunk=drop)
            out = s.feed(STREAM[:cut]) + s.feed(STREAM[cut:]) + s.flush()
            assert out == want, (drop, cut)
            assert (s.usage.prompt_tokens, s.usage.completion_tokens) == (11, 4), (drop, cut)


def test_complete_events_are_returned_at_once_only_a_partial_one_is_held() -> None:
    s = SSEUsageScanner(drop_usage_chunk=True)
    first = CONTENT[0] + CONTENT[1][:10]
    assert s.feed(first) == CONTENT[0]  # nothing complete is held back
    assert s.feed(CONTENT[1][10:]) == CONTENT[1]


def test_dropping_the_usage_chunk_in_the_middle_of_one_read() -> None:
    s = SSEUsageScanner(drop_usage_chunk=True)
    assert s.feed(STREAM) == b"".join(CONTENT) + DONE
    assert s.usage.total == 15


def test_crlf_events_and_a_usage_event_without_its_blank_line() -> None:
    crlf = [_chunk("a", sep=b"\r\n\r\n"), USAGE.replace(b"\n\n", b"\r\n\r\n")]
    s = SSEUsageScanner(drop_usage_chunk=True)
    assert s.feed(b"".join(crlf)) == crlf[0]
    assert s.usage.completion_tokens == 4
    # An upstream that ends the stream right after the usage event, without a blank line.
    s = SSEUsageScanner(drop_usage_chunk=False)
    last = USAGE.rstrip(b"\n")
    assert s.feed(CONTENT[0] + last) == CONTENT[0]
    assert s.flush() == last
    assert s.usage.prompt_tokens == 11


def test_the_word_usage_inside_content_is_not_taken_for_usage() -> None:
    tricky = _chunk('say "usage": {"prompt_tokens": 99}', null_usage=False)
    s = CountingScanner(drop_usage_chunk=True)
    assert s.feed(tricky) == tricky
    assert s.parsed == 0 and not s.usage.seen


def test_an_event_whose_json_spans_several_data_lines() -> None:
    event = b'data: {"choices": [],\ndata:  "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
    s = SSEUsageScanner(drop_usage_chunk=True)
    assert s.feed(event) == b""
    assert (s.usage.prompt_tokens, s.usage.completion_tokens) == (3, 2)


def test_a_usage_object_that_is_not_json_is_forwarded() -> None:
    broken = b'data: {"choices": [], "usage": {oops}\n\n'
    s = SSEUsageScanner(drop_usage_chunk=True)
    assert s.feed(broken) == broken
    assert not s.usage.seen


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"m","stream":true}',
        b'  {"model": "m", "messages": [{"role": "user", "content": "}"}], "stream": true }\n',
    ],
)
def test_usage_request_is_spliced_into_the_callers_bytes(body: bytes) -> None:
    payload = json.loads(body)
    out = body_asking_usage(payload, "/v1/chat/completions", body)
    assert out is not None
    assert json.loads(out) == payload and payload["stream_options"] == {"include_usage": True}
    assert out.startswith(body.rstrip()[:-1])  # every byte the caller sent is kept, in order


def test_usage_request_re_encodes_when_splicing_is_not_safe() -> None:
    body = json.dumps({"model": "m", "stream": True, "stream_options": {"other": 1}}).encode()
    payload = json.loads(body)
    out = body_asking_usage(payload, "/v1/chat/completions", body)
    assert out is not None and json.loads(out)["stream_options"] == {"other": 1, "include_usage": True}

    utf16 = json.dumps({"model": "m", "stream": True}).encode("utf-16")
    payload = json.loads(utf16)
    out = body_asking_usage(payload, "/v1/chat/completions", utf16)
    assert out is not None and json.loads(out) == {"model": "m", "stream": True, "stream_options": {"include_usage": True}}


def test_usage_request_is_left_alone_when_not_needed() -> None:
    for payload, path in (
        ({"stream": False}, "/v1/chat/completions"),
        ({"stream": True, "stream_options": {"include_usage": True}}, "/v1/chat/completions"),
        ({"stream": True}, "/v1/messages"),
    ):
        before = dict(payload)
        assert body_asking_usage(payload, path, json.dumps(payload).encode()) is None
        assert payload == before
