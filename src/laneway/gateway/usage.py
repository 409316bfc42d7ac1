"""Token usage read from responses as they pass, for metering and token rate limits. Pure.

Non-streamed OpenAI responses carry `usage.prompt_tokens` / `completion_tokens`; Anthropic's
carry `usage.input_tokens` / `output_tokens`. Streams carry usage in events: OpenAI's in a last
chunk when the request asked `stream_options.include_usage` (the gateway asks on the caller's
behalf, and drops that extra chunk again if the caller had not asked), Anthropic's in
`message_start` and `message_delta`. `SSEUsageScanner` forwards complete events at once and
holds at most one partial event, so streaming stays pass-through; it parses only the events that
carry a non-null usage (OpenAI marks every other chunk `"usage": null`), so its cost per chunk
does not grow with what the chunk holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seen: bool = False

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def absorb(self, usage: Any) -> None:
        """Fold one `usage` object in; later values of a field replace earlier ones."""
        if not isinstance(usage, dict):
            return
        p = usage.get("prompt_tokens", usage.get("input_tokens"))
        c = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(p, int) and p:
            self.prompt_tokens = p
            self.seen = True
        if isinstance(c, int):
            self.completion_tokens = c
            self.seen = True


def usage_from_body(body: bytes) -> Usage:
    """Usage of a whole JSON response; empty when the body is not JSON or has none.

    OpenAI's and Anthropic's responses end with their `usage` member, so that member alone is
    decoded when it is the top-level object's last (see `_trailing_usage`); a body shaped
    otherwise (vLLM puts fields after it) is parsed whole. On a 250-byte answer that is 2.3 µs
    instead of 4.7 µs, and it stays so for a 4 kB answer, whose whole parse grows with its text."""
    u = Usage()
    at = body.rfind(b'"usage"')
    if at < 0:
        return u
    trailing = _trailing_usage(body, at)
    if trailing is not _NOT_TRAILING:
        u.absorb(trailing)
        return u
    try:
        doc = json.loads(body)
    except ValueError:
        return u
    if isinstance(doc, dict):
        u.absorb(doc.get("usage"))
    return u


_NOT_TRAILING = object()
_DECODER = json.JSONDecoder()
_JSON_SPACE = b" \t\r\n"
_COLON_AFTER = re.compile(rb"[ \t\r\n]*:[ \t\r\n]*")
_OBJECT_END = re.compile(r"[ \t\r\n]*}[ \t\r\n]*\Z")


def _trailing_usage(body: bytes, at: int) -> Any:
    """The value of `"usage"` at byte `at` when it is the last member of the top-level object,
    else `_NOT_TRAILING`.

    Why this is the same value `json.loads(body)["usage"]` gives, for a JSON body: the quote at
    `at` follows `{` or `,` (so it is not escaped), and a closing quote cannot be followed by
    `usage"` in valid JSON, so it opens the string `usage`; followed by `:` it is a key. Its
    value is decoded by the JSON decoder itself, and when nothing but one `}` follows, that brace
    closes the object holding the key at the very end of the body: the top-level object. Being
    its last member, it is also the one `json.loads` keeps among duplicate keys."""
    before = at - 1
    while before >= 0 and body[before] in _JSON_SPACE:
        before -= 1
    if before < 0 or body[before] not in b"{,":
        return _NOT_TRAILING
    colon = _COLON_AFTER.match(body, at + 7)
    if colon is None:
        return _NOT_TRAILING
    try:
        tail = body[colon.end():].decode()
        value, end = _DECODER.raw_decode(tail)
    except ValueError:  # UnicodeDecodeError included: let the whole-body parse decide
        return _NOT_TRAILING
    if not _OBJECT_END.match(tail, end):
        return _NOT_TRAILING
    return value


def _usage_of_event(doc: Any, usage: Usage) -> None:
    if not isinstance(doc, dict):
        return
    usage.absorb(doc.get("usage"))
    message = doc.get("message")
    if isinstance(message, dict):
        usage.absorb(message.get("usage"))


_USAGE_KEY = re.compile(rb'"usage"\s*:(?!\s*null)')
"""A `"usage"` key whose value is not `null`. OpenAI sends `"usage": null` on every chunk of a
stream that asked for usage, so matching the key alone would parse every event; this pattern
lets the bytes search skip those in C. A match inside a JSON string is impossible (a quote
inside a string is escaped), and a false match only costs one needless parse."""


class SSEUsageScanner:
    """Feed it the stream's bytes; it returns the bytes to forward and keeps the usage.

    With `drop_usage_chunk`, an OpenAI chunk that carries only usage (`choices: []`) is not
    forwarded: the caller did not ask for it, the gateway did.

    Why it is shaped this way: it runs on every chunk of every stream, so the common chunk
    (no usage in it) costs two reverse searches and one regex search, all in C, and is
    forwarded as the same bytes object. Only an event that names a non-null usage is cut out
    and parsed as JSON, which is once or twice per stream. Complete events are returned at
    once; only a trailing partial event is held until its end arrives.
    """

    __slots__ = ("_drop", "_tail", "usage")

    def __init__(self, *, drop_usage_chunk: bool = False) -> None:
        self.usage = Usage()
        self._tail = b""
        self._drop = drop_usage_chunk

    def feed(self, chunk: bytes) -> bytes:
        data = self._tail + chunk if self._tail else chunk
        cut = _last_boundary(data)
        if cut < 0:
            if len(data) > _MAX_EVENT:
                # Not server-sent events after all (or a giant event): stop holding bytes back.
                self._tail = b""
                return data
            self._tail = data
            return b""
        if cut == len(data):
            self._tail = b""
            complete = data
        else:
            self._tail = data[cut:]
            complete = data[:cut]
        return self._scan(complete)

    def flush(self) -> bytes:
        """The bytes still held when the stream ends: a last event without its blank line.
        Its usage counts too (an upstream may end the stream right after the usage chunk)."""
        tail, self._tail = self._tail, b""
        return self._scan(tail) if tail else tail

    def _scan(self, data: bytes) -> bytes:
        """Absorb the usage of every event in `data` that names one; cut out dropped events."""
        hit = _USAGE_KEY.search(data)
        if hit is None:
            return data
        kept: list[bytes] = []
        kept_from = 0
        while hit is not None:
            at = hit.start()
            start, end = _event_start(data, at), _event_end(data, at)
            if self._read(data[start:end]):
                kept.append(data[kept_from:start])
                kept_from = end
            hit = _USAGE_KEY.search(data, end)
        if not kept_from:
            return data
        kept.append(data[kept_from:])
        return b"".join(kept)

    def _read(self, event: bytes) -> bool:
        """Absorb usage of one event; True when the event is to be dropped."""
        lines = [line[5:].strip() for line in event.replace(b"\r\n", b"\n").split(b"\n") if line.startswith(b"data:")]
        payload = b"\n".join(lines)  # an event's data lines form one value (the SSE rule)
        if not payload.startswith(b"{"):
            return False
        try:
            doc = json.loads(payload)
        except ValueError:
            return False
        _usage_of_event(doc, self.usage)
        return self._drop and isinstance(doc, dict) and doc.get("choices") == [] and doc.get("usage") is not None


_MAX_EVENT = 1 << 20


def _last_boundary(data: bytes) -> int:
    """Index just past the last blank line that ends an event, or -1."""
    a = data.rfind(b"\n\n")
    b = data.rfind(b"\r\n\r\n")
    return max(a + 2 if a >= 0 else -1, b + 4 if b >= 0 else -1)


def _event_start(data: bytes, at: int) -> int:
    """Index where the event holding byte `at` begins: just past the blank line before it."""
    a = data.rfind(b"\n\n", 0, at)
    b = data.rfind(b"\r\n\r\n", 0, at)
    return max(a + 2 if a >= 0 else 0, b + 4 if b >= 0 else 0)


def _event_end(data: bytes, at: int) -> int:
    """Index just past the blank line that ends the event holding byte `at` (or the end)."""
    a = data.find(b"\n\n", at)
    b = data.find(b"\r\n\r\n", at)
    ends = [x for x in (a + 2 if a >= 0 else -1, b + 4 if b >= 0 else -1) if x >= 0]
    return min(ends) if ends else len(data)


def wants_stream(payload: dict[str, Any]) -> bool:
    return payload.get("stream") is True


def ask_for_usage(payload: dict[str, Any], path: str) -> bool:
    """Ask an OpenAI-style stream for its usage chunk. Returns True when the gateway added the
    request (so the scanner drops the chunk again); Anthropic's /messages always sends usage."""
    if not wants_stream(payload) or path.endswith("/messages"):
        return False
    opts = payload.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        return False
    payload["stream_options"] = {**(opts if isinstance(opts, dict) else {}), "include_usage": True}
    return True


_USAGE_OPTION = b',"stream_options":{"include_usage":true}'


def body_asking_usage(payload: dict[str, Any], path: str, body: bytes) -> bytes | None:
    """The request body to send upstream when the gateway asks an OpenAI-style stream for its
    usage on the caller's behalf (updating `payload` to match), or None when it does not need
    to (not a stream, Anthropic's /messages, or the caller asked itself).

    When the caller sent no `stream_options`, the option is spliced in before the object's
    closing brace instead of re-encoding the whole body: the body is a JSON object already
    parsed, so the splice is valid JSON, costs one copy, and keeps every other byte as the
    caller sent it. Bodies in other encodings (UTF-16/32) or with `stream_options` present are
    re-encoded from `payload`.
    """
    had_options = "stream_options" in payload
    if not ask_for_usage(payload, path):
        return None
    if not had_options:
        end = body.rstrip()
        if end.endswith(b"}") and body.lstrip()[:1] == b"{":
            return end[:-1] + _USAGE_OPTION + b"}"
    return json.dumps(payload).encode()
