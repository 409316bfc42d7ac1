"""Answers that only look like answers: `TBD`, `n/a`, whitespace, `https://tbd.example.com`.

A ticket's rows exist to force decisions; a placeholder in any spelling is a decision not
taken, so the checks treat it as unanswered. Pure.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

PLACEHOLDER_WORDS = frozenset({
    "tbd", "tba", "todo", "fixme", "xxx", "n/a", "na", "none", "null", "nil", "-", "--", "?", "??", "...",
    "unknown", "placeholder", "changeme", "later", "pending", "tk", "wip", "test", "foo", "bar",
})
"""Words that answer nothing (compared lowercased, without surrounding punctuation)."""

_LEADING = re.compile(r"^(tbd|tba|todo|fixme|xxx)\b", re.IGNORECASE)
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "example", "invalid", "test", "localhost.localdomain")


def is_placeholder(text: str | None) -> bool:
    """Whether `text` is empty, whitespace, a placeholder word, or starts with TODO/TBD."""
    if text is None:
        return True
    value = text.strip()
    if not value:
        return True
    bare = value.strip(" .:;!<>[]()'\"").lower()
    return bare in PLACEHOLDER_WORDS or not bare or bool(_LEADING.match(value)) or reserved_host(value)


def reserved_host(text: str) -> bool:
    """Whether `text` names a documentation-only domain (RFC 2606: example.com, .invalid, ...)."""
    value = text.strip().lower()
    host = urlsplit(value).hostname if "://" in value else value.split("@")[-1].split("/")[0]
    if not host:
        return False
    return any(host == d or host.endswith("." + d) for d in _RESERVED_DOMAINS)
