"""Errors in OpenAI's shape, so every client library reports them the way it reports OpenAI's.

OpenAI answers `{"error": {"message", "type", "param", "code"}}`; the official clients turn
the status into a typed exception (401 AuthenticationError, 429 RateLimitError, ...) and show
the message. The gateway never answers a client mistake with a traceback or a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "invalid_request_error",
    410: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


@dataclass(eq=False)
class GatewayError(Exception):
    """A refusal with the status, the message that says what to change, and a stable code.

    Not a frozen dataclass: Python sets `__traceback__` on an exception it re-raises (a
    `contextlib.contextmanager` exit does), and a frozen one turns that into a
    FrozenInstanceError, that is a 500 where a 4xx was meant."""

    status: int
    message: str
    code: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def error_body(status: int, message: str, code: str) -> bytes:
    """The JSON body of an OpenAI-style error."""
    return json.dumps(
        {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "param": None, "code": code}}
    ).encode()


def error_response(err: GatewayError) -> web.Response:
    headers = {"x-laneway-error": err.code, **err.headers}
    return web.Response(
        status=err.status, body=error_body(err.status, err.message, err.code), content_type="application/json", headers=headers
    )
