"""API errors as Kubernetes `Status` objects.

Every refusal the API gives is one `ApiError`, rendered as the document `kubectl` and client
libraries already understand: `kind: Status, status: Failure, reason, message, code` and,
for validation problems, `details.causes[{field, message, reason}]`. Handlers raise; one
middleware renders. The message always says what was wrong and what would fix it; nothing
from inside the server (tracebacks, SQL, file paths) ever reaches a client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from laneway.api.errors import FieldProblem


@dataclass(frozen=True)
class Cause:
    """One field-level reason inside a Status' `details.causes`."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def wire(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "reason": self.reason}


@dataclass
class ApiError(Exception):
    """A refusal with its HTTP code and Kubernetes reason (`NotFound`, `Invalid`, `Forbidden`, ...)."""

    code: int
    reason: str
    message: str
    causes: list[Cause] = field(default_factory=list)
    name: str | None = None
    kind: str | None = None
    allow: tuple[str, ...] = ()
    """For a 405: the methods the path serves, sent as the `Allow` header (RFC 9110)."""

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        """The Kubernetes Status document for this refusal."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.wire() for c in self.causes]
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


def bad_request(message: str, *, causes: list[Cause] | None = None) -> ApiError:
    return ApiError(400, "BadRequest", message, causes or [])


def not_found(message: str, *, kind: str | None = None, name: str | None = None) -> ApiError:
    return ApiError(404, "NotFound", message, kind=kind, name=name)


def method_not_allowed(message: str, *, allow: tuple[str, ...] = ()) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, allow=allow)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "Unauthorized", message)


def forbidden(message: str, *, kind: str | None = None, name: str | None = None) -> ApiError:
    return ApiError(403, "Forbidden", message, kind=kind, name=name)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def internal_error() -> ApiError:
    return ApiError(500, "InternalError", "internal error in the laneway API server; the server log has the details")


def invalid(kind: str, name: str | None, problems: list[FieldProblem]) -> ApiError:
    """422 Invalid with one cause per field problem, as Kubernetes answers a bad object."""
    what = f'{kind} "{name}"' if name else kind
    summary = "; ".join(str(p) for p in problems)
    causes = [Cause(p.path, p.message) for p in problems]
    return ApiError(422, "Invalid", f"{what} is invalid: {summary}", causes, name=name, kind=kind)
