"""The error event that ends a stream cut short, in the stream's own format (pure).

Once a streamed answer's status line and first events are out, an upstream that breaks off
can no longer be reported with an HTTP status. The OpenAI and Anthropic SDKs both raise on an
error event in the stream, so the gateway writes one before it closes the connection:

- OpenAI's Server-Sent Events (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`): a
  `data:` line holding `{"error": {...}}` (the openai client raises `APIError` on it);
- Anthropic's `/v1/messages`: `event: error` with `{"type": "error", "error": {"type":
  "api_error", ...}}` (the anthropic client raises `APIStatusError` on it).

The leading blank line ends any event the upstream left half-written, so the error event is
parsed on its own.
"""

from __future__ import annotations

import json

CUT_ERROR_TYPE = "upstream_stream_cut"


def is_anthropic_path(path: str) -> bool:
    """Whether a request's upstream path is Anthropic's Messages API (its streams use named events)."""
    return path.split("?", 1)[0].rstrip("/").endswith("/messages")


def stream_error_event(*, anthropic: bool, message: str) -> bytes:
    """The bytes of one error event (see the module docstring)."""
    if anthropic:
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"\n\nevent: error\ndata: " + json.dumps(body).encode() + b"\n\n"
    body_openai = {"error": {"message": message, "type": CUT_ERROR_TYPE, "code": CUT_ERROR_TYPE, "param": None}}
    return b"\n\ndata: " + json.dumps(body_openai).encode() + b"\n\n"
