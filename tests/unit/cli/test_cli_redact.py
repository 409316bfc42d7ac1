"""Credentials never reach a log line (rule 8; the logging item of issue #11's attack 10)."""

from __future__ import annotations

import io
import logging

from laneway.cache.sources.http import HTTPFileSource
from laneway.redact import RedactingFilter, redact_text, redact_url


def test_urls_lose_their_query_and_password_but_keep_where_they_point() -> None:
    assert redact_url("https://b.s3.amazonaws.com/m.gguf?X-Amz-Signature=abc") == "https://b.s3.amazonaws.com/m.gguf?<redacted>"
    assert redact_url("http://user:hunter2@host:8080/p") == "http://user:<redacted>@host:8080/p"
    assert redact_url("http://127.0.0.1:8470/apis") == "http://127.0.0.1:8470/apis"


def test_a_request_line_quoted_in_an_error_loses_its_query() -> None:
    text = redact_text("Bad status line: b'GET /ml/svc/v1/x?X-Amz-Signature=SECRET HTTP/1.1'")
    assert "SECRET" not in text and "GET /ml/svc/v1/x?<redacted> HTTP/1.1" in text


def test_headers_bearer_and_laneway_tokens_are_replaced() -> None:
    text = redact_text("{'Authorization': 'Bearer sk-1', 'x-api-key': 'sk-2', 'X-Trace': 't1'} lw_abcdefghijklmnopqrstuv")
    assert "sk-1" not in text and "sk-2" not in text and "abcdefghijklmnop" not in text
    assert "'X-Trace': 't1'" in text
    assert redact_text("Authorization: Basic dXNlcjpwYXNz") == "Authorization: <redacted>"


def test_a_cache_source_describes_its_url_without_the_signature() -> None:
    source = HTTPFileSource("https://h.example/w.gguf?sig=SECRET")
    assert "SECRET" not in source.describe() and source.describe().startswith("https://h.example/w.gguf")


def test_the_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("laneway.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("hydrating %s failed", "https://h.example/w.gguf?sig=SECRET1")
        try:
            raise RuntimeError("GET https://h.example/x?token=SECRET2 with Authorization: Bearer SECRET3")
        except RuntimeError:
            logger.exception("download failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "hydrating https://h.example/w.gguf?<redacted> failed" in out
    assert "RuntimeError" in out
    assert not any(s in out for s in ("SECRET1", "SECRET2", "SECRET3"))
