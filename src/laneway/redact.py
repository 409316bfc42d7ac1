"""Credentials out of log lines: signed URLs, bearer tokens, API keys, passwords in URLs.

What laneway logs comes partly from what teams wrote (a cache's download URL, an endpoint's
URL) and partly from errors of libraries that quote a URL or a header. Any of those may carry a
credential: a presigned S3 or GCS URL's query string, `https://user:pass@host`, an
`Authorization` or `x-api-key` header value, a laneway token. Rule 8 says secrets are never
logged, so rather than trusting every call site, the processes laneway starts (`laneway up`,
`laneway gateway`) put `RedactingFilter` on their log handlers, and every record is scrubbed
on its way out:

- a URL keeps its scheme, host, port and path; a password in it and its whole query string
  are replaced (`?<redacted>`): query strings are where signatures and keys travel; so is the
  query of an HTTP request line quoted in a server's error (`GET /path?<redacted> HTTP/1.1`);
- `Bearer <anything>`, `Basic <anything>`, and the values of `authorization`, `x-api-key`,
  `api-key`, `cookie` written as header or mapping entries become `<redacted>`;
- laneway tokens (`lw_...`) anywhere become `lw_<redacted>`.

`redact_url` is also what code uses when it describes a URL a team wrote (a cache source).
What it does not do: recognise a secret that looks like ordinary text in an ordinary place.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"

_URL = re.compile(r"""\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>()\[\]{}]+""")
_SCHEME_SECRET = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=:-]+")
_HEADER_SECRET = re.compile(
    r"""(?i)(["']?\b(?:authorization|proxy-authorization|x-api-key|api-key|apikey|cookie|set-cookie)["']?\s*[:=]\s*["']?)"""
    r"""(?!<redacted>)[^"',;}\s][^"',;}\n]*"""
)
_LANEWAY_TOKEN = re.compile(r"\blw_[A-Za-z0-9_-]{16,}")
_REQUEST_LINE_QUERY = re.compile(
    r"""\b((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)\s+/[^\s?'"]*)\?[^\s'"]*"""
)


def redact_url(url: str) -> str:
    """`url` without a password in its authority and with its query string replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """`text` with every credential this module recognises replaced (see the docstring)."""
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    if "?" in text:
        text = _REQUEST_LINE_QUERY.sub(lambda m: f"{m.group(1)}?{REDACTED}", text)
    text = _HEADER_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SCHEME_SECRET.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _LANEWAY_TOKEN.sub("lw_" + REDACTED, text)


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs each record's message and traceback (see the docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def redact_logging(logger: logging.Logger | None = None) -> None:
    """Put a `RedactingFilter` on every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
