"""Which request paths the gateway accepts, and the upstream URL it builds from one. Pure.

The gateway appends the caller's path to an endpoint's prefix (`spec.url` plus
`rewritePath`), and that endpoint may carry an injected credential, so a path that climbs out
of the prefix would spend the credential on whatever else the provider's host serves. The
rules, checked on the raw request target before any routing:

- no dot segment (`.` or `..`), whether written plainly or percent-encoded (`%2e%2e`), and
  decoding repeatedly so a double encoding (`%252e%252e`) is caught too;
- no encoded slash or backslash (`%2f`, `%5c`), and no backslash at all: upstreams disagree
  on whether those separate segments, so a path that means one thing here must not mean
  another there;
- printable ASCII only (a request line carries nothing else legitimately), no control
  characters once decoded.

A refused path gets 400 and the rule it broke. An accepted path is forwarded exactly as the
caller encoded it (never decoded and re-encoded, so `%3F` cannot turn into a query), below the
endpoint's prefix; `under_prefix` states that promise as a check the tests hold it to.

An endpoint whose prefix already ends in `/v1` (how providers publish their base URL, e.g.
`https://api.openai.com/v1`) and a caller's `/v1/...` give one `/v1`, not `/v1/v1/...`.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlsplit

from laneway.gateway.errors import GatewayError

_DOT_SEGMENTS = frozenset({".", ".."})
_MAX_DECODES = 4
"""How many layers of percent-encoding are peeled to look for a hidden dot segment."""


def _refuse(path: str, rule: str) -> GatewayError:
    shown = path if len(path) <= 200 else path[:200] + "..."
    return GatewayError(
        400,
        f"Request path {shown!r} refused: {rule}. Call /{{namespace}}/{{service}}/v1/... or /v1/... with a plain path.",
        "invalid_path",
    )


def _segment_problem(segment: str, *, allow_encoded_slash: bool) -> str | None:
    """Why one raw (still encoded) segment is not acceptable, or None."""
    if segment in _DOT_SEGMENTS:
        return "it contains a dot segment ('.' or '..')"
    if "%" not in segment:
        return None
    decoded = segment
    for _ in range(_MAX_DECODES):
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
        if "\\" in decoded:
            return "it contains an encoded backslash"
        if "/" in decoded:
            if not allow_encoded_slash:
                return "it contains an encoded slash ('%2f')"
            if any(part in _DOT_SEGMENTS for part in decoded.split("/")):
                return "it contains an encoded dot segment"
        if decoded in _DOT_SEGMENTS:
            return "it contains an encoded dot segment ('%2e')"
        if not decoded.isprintable():
            return "it contains an encoded control character"
    return None


def check_path(raw_path: str, *, allow_encoded_slash: bool = False) -> str:
    """`raw_path` (the request target's path, still percent-encoded, no query) when it obeys
    the rules in the module docstring, else a 400 GatewayError naming the broken rule.

    `allow_encoded_slash` is for paths the gateway answers itself and never forwards
    (`/v1/models/{id}`, where OpenAI's client encodes a model id's slash as `%2F`)."""
    if not raw_path.startswith("/"):
        raise _refuse(raw_path, "it must start with '/'")
    if not (raw_path.isascii() and raw_path.isprintable()) or " " in raw_path:
        raise _refuse(raw_path, "it must be printable ASCII (percent-encode anything else)")
    if "\\" in raw_path:
        raise _refuse(raw_path, "it contains a backslash")
    # Fast path: with no '%' a dot segment always shows as '/.'.
    if "%" not in raw_path and "/." not in raw_path:
        return raw_path
    for segment in raw_path.split("/"):
        problem = _segment_problem(segment, allow_encoded_slash=allow_encoded_slash)
        if problem is not None:
            raise _refuse(raw_path, problem)
    return raw_path


def split_target(raw_target: str) -> tuple[str, str]:
    """A raw request target (`/path?query`) as (path, query), both still encoded."""
    path, _, query = raw_target.partition("?")
    return path, query


def join_path(prefix_path: str, tail: str) -> str:
    """`prefix_path` + `tail`, giving one `/v1` when the prefix ends with `/v1` and the tail
    starts with it."""
    prefix = prefix_path.rstrip("/")
    if prefix.endswith("/v1") and (tail == "/v1" or tail.startswith("/v1/")):
        tail = tail[len("/v1"):]
    return prefix + tail


def upstream_url(base_url: str, tail: str, query: str = "") -> str:
    """The URL one attempt is sent to: the endpoint's `base_url` (scheme, host and prefix path;
    see `weights.base_url`), the caller's `tail` (which passed `check_path`, so it holds no dot
    segment and cannot climb out of the prefix) and its raw `query`. Both stay as the caller
    encoded them: send the result with `yarl.URL(url, encoded=True)`."""
    origin, prefix, base_query = _split_base(base_url)
    path = join_path(prefix, tail)
    joined_query = f"{base_query}&{query}" if base_query and query else base_query or query
    return origin + (path or "/") + ("?" + joined_query if joined_query else "")


def under_prefix(base_url: str, url: str) -> bool:
    """Whether `url` lies under the endpoint's prefix once dot segments are resolved the way
    an HTTP client or server resolves them (what `upstream_url` promises for checked tails)."""
    origin, prefix, _ = _split_base(base_url)
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return False
    resolved: list[str] = []
    for segment in parts.path.split("/")[1:]:
        decoded = unquote(segment)
        if decoded == "..":
            if resolved:
                resolved.pop()
        elif decoded != ".":
            resolved.append(segment)
    path = "/" + "/".join(resolved)
    return path == prefix or path.startswith(prefix + "/") or not prefix


@lru_cache(maxsize=4096)
def _split_base(base_url: str) -> tuple[str, str, str]:
    """(origin, prefix path without trailing slash, query) of an endpoint's base URL; cached,
    since a fleet has few endpoints and every attempt asks."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/"), parts.query
