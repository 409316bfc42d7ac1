"""HTTP(S) source: one file at a URL, resumed with a `Range` request, checked by SHA-256.

The file keeps the last segment of the URL's path as its name (`model.gguf`), so an engine is
pointed at `$LANEWAY_MODEL_CACHE/model.gguf`. A server that ignores `Range` (answers 200) is
read from the start again; the size comes from Content-Length or Content-Range.

The URL is a team's: every connection (redirects included) goes through the egress policy
(`laneway.egress.sync_http`), the host's proxy settings and `~/.netrc` are never used, and the
URL is shown and logged without its query string (which may carry a signature).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import httpx

from laneway.cache.errors import SourceUnavailable, egress_error
from laneway.cache.sources.base import CHUNK_BYTES, Opened, RemoteFile, check_relative
from laneway.egress import sync_http
from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.redact import redact_url

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


def file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    return name or "model"


def total_from(response: httpx.Response, start: int) -> int | None:
    """The whole file's size from a 206's Content-Range or a 200's Content-Length."""
    if response.status_code == 206:
        rng = response.headers.get("content-range", "")
        total = rng.rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    return int(length) + start if length and length.isdigit() else None


@contextmanager
def ranged_get(url: str, offset: int, *, headers: dict[str, str], what: str, policy: EgressPolicy) -> Iterator[Opened]:
    """GET `url` from `offset`, shared by the HTTP and Hugging Face sources."""
    request_headers = dict(headers)
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    try:
        with sync_http.client(policy, timeout=timeout) as client:
            with client.stream("GET", url, headers=request_headers) as response:
                if response.status_code == 416 and offset:
                    # Asked past the end: the part file is already whole (or longer); let the
                    # hydrator judge it by size and checksum.
                    yield Opened(start=offset, total=None, chunks=iter(()))
                    return
                if response.status_code not in (200, 206):
                    raise SourceUnavailable(
                        f"{what}: GET {redact_url(url)} answered {response.status_code} {response.reason_phrase}; "
                        "check the URL and, for a private file, the authSecret"
                    )
                start = offset if response.status_code == 206 else 0
                yield Opened(start=start, total=total_from(response, start), chunks=_chunks(response, what))
    except EgressRefused as exc:
        raise egress_error(what, exc) from None
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"{what}: reading {redact_url(url)} failed ({type(exc).__name__}: {exc}); it resumes on the next try") from None


def _chunks(response: httpx.Response, what: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(CHUNK_BYTES)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"{what}: the download broke off ({type(exc).__name__}); it resumes on the next try") from None


class HTTPFileSource:
    def __init__(self, url: str, *, sha256: str | None = None, bearer: str | None = None, policy: EgressPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or EgressPolicy()
        self.sha256 = sha256.lower() if sha256 else None
        self._headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def describe(self) -> str:
        """The URL for logs and statuses: a signed query string or a password stays out."""
        return redact_url(self.url)

    def fingerprint(self) -> str:
        return f"http:{self.url}#sha256={self.sha256 or ''}"

    def files(self) -> list[RemoteFile]:
        name = check_relative(file_name(self.url), where=self.describe())
        return [RemoteFile(path=name, sha256=self.sha256, locator=self.url)]

    def open(self, file: RemoteFile, offset: int):  # type: ignore[no-untyped-def]
        return ranged_get(file.locator, offset, headers=self._headers, what=self.describe(), policy=self.policy)
