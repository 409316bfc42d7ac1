"""Token usage read from responses as they pass, for metering and token rate limits. Pure.

Non-streamed OpenAI responses carry `usage.prompt_tokens` / `completion_tokens`; Anthropic's
carry `usage.input_tokens` / `output_tokens`. Streams carry usage in events: OpenAI's in a last
chunk when the request asked `stream_options.include_usage` (the gateway asks on the caller's
behalf, and drops that extra chunk again if the caller had not asked), Anthropic's in
`message_start` and `message_delta`. `SSEUsageScanner` splits the stream into events without
holding more than one partial event, so streaming stays pass-through.
"""

from __future__ import annotations

import json
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
    """Usage of a whole JSON response; empty when the body is not JSON or has none."""
    u = Usage()
    if b'"usage"' not in body:
        return u
    try:
        doc = json.loads(body)
    except ValueError:
        return u
    if isinstance(doc, dict):
        u.absorb(doc.get("usage"))
    return u


def _usage_of_event(doc: Any, usage: Usage) -> None:
    if not isinstance(doc, dict):
        return
    usage.absorb(doc.get("usage"))
    message = doc.get("message")
    if isinstance(message, dict):
        usage.absorb(message.get("usage"))


class SSEUsageScanner:
    """Feed it the stream's bytes; it returns the bytes to forward and keeps the usage.

    With `drop_usage_chunk`, an OpenAI chunk that carries only usage (`choices: []`) is not
    forwarded: the caller did not ask for it, the gateway did.
    """

    __slots__ = ("usage", "_tail", "_drop")

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
        self._tail = data[cut:]
        complete = data[:cut]
        if b'"usage"' not in complete:
            return complete
        out: list[bytes] = []
        for event in _events(complete):
            if b'"usage"' in event and self._read(event):
                continue
            out.append(event)
        return b"".join(out)

    def _read(self, event: bytes) -> bool:
        """Absorb usage of one event; True when the event is to be dropped."""
        drop = False
        for line in event.replace(b"\r\n", b"\n").split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if not payload.startswith(b"{"):
                continue
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            _usage_of_event(doc, self.usage)
            if self._drop and isinstance(doc, dict) and doc.get("choices") == [] and doc.get("usage") is not None:
                drop = True
        return drop

    def flush(self) -> bytes:
        tail, self._tail = self._tail, b""
        return tail


_MAX_EVENT = 1 << 20


def _last_boundary(data: bytes) -> int:
    """Index just past the last blank line that ends an event, or -1."""
    a = data.rfind(b"\n\n")
    b = data.rfind(b"\r\n\r\n")
    return max(a + 2 if a >= 0 else -1, b + 4 if b >= 0 else -1)


def _events(data: bytes) -> list[bytes]:
    """Split complete events, each keeping its own terminator so forwarding is byte-exact."""
    out: list[bytes] = []
    start = 0
    while start < len(data):
        a = data.find(b"\n\n", start)
        b = data.find(b"\r\n\r\n", start)
        candidates = [x + 2 for x in (a,) if x >= 0] + [x + 4 for x in (b,) if x >= 0]
        end = min(candidates) if candidates else len(data)
        out.append(data[start:end])
        start = end
    return out


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
