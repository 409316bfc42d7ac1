"""Hugging Face source: a model repository at a revision, through `huggingface_hub`.

`huggingface_hub` lists the repository (with each file's size and, for LFS files, its
SHA-256) and resolves the revision to a commit, and builds each file's URL; the bytes go
through the shared resumable reader so resume, verification and progress work as for every
other source. `HF_ENDPOINT` (a mirror) is honoured as by every Hugging Face tool; the file
URLs are built against the same endpoint the listing came from, so a mirror (or the `endpoint`
given here) serves both.

Never the host's identity: without an `authSecret` no token is sent (`token=False`, so the
host's `HF_TOKEN` and `~/.cache/huggingface/token` are not read). The Hub's address is judged
by the egress policy before the listing, and every download connection is judged again.
"""

from __future__ import annotations

import os
from typing import Any

from laneway.cache.errors import SourceInvalid, SourceUnavailable, egress_error
from laneway.cache.sources.base import RemoteFile, check_relative
from laneway.cache.sources.http import ranged_get
from laneway.egress.hosts import host_port
from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.egress.resolve import allowed_addresses

DEFAULT_HUB = "https://huggingface.co"


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub laneway lists and downloads from: the one given, else `HF_ENDPOINT` (a mirror
    the platform set for this process), else huggingface.co."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_HUB).rstrip("/")


class HuggingFaceSource:
    def __init__(
        self, repo: str, *, revision: str | None = None, token: str | None = None, endpoint: str | None = None, api: Any = None,
        policy: EgressPolicy | None = None,
    ) -> None:
        self.repo = repo
        self.revision = revision
        self._token = token
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._api = api
        self.policy = policy or EgressPolicy()

    def describe(self) -> str:
        host = self._endpoint.partition("://")[2] if self._endpoint else "huggingface.co"
        return f"{host}/{self.repo}" + (f"@{self.revision}" if self.revision else "")

    def fingerprint(self) -> str:
        return f"hf:{self.repo}@{self.revision or 'main'}"

    def _hub(self) -> Any:
        if self._api is None:
            from huggingface_hub import HfApi

            self._check_hub()
            self._api = HfApi(endpoint=hub_endpoint(self._endpoint), token=self._token or False)
        return self._api

    def _check_hub(self) -> None:
        try:
            where = host_port(hub_endpoint(self._endpoint))
            allowed_addresses(self.policy, where.host, where.port)
        except EgressRefused as exc:
            raise egress_error(self.describe(), exc) from None
        except ValueError as exc:
            raise SourceInvalid(f"the Hugging Face endpoint: {exc}") from None

    def files(self) -> list[RemoteFile]:
        from huggingface_hub import hf_hub_url
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        try:
            info = self._hub().model_info(self.repo, revision=self.revision, files_metadata=True)
        except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
            raise SourceInvalid(
                f"{self.describe()} was not found ({type(exc).__name__}); check repo and revision, and the authSecret for a gated model"
            ) from None
        except (HfHubHTTPError, OSError) as exc:
            raise SourceUnavailable(f"listing {self.describe()} failed: {exc}") from None
        commit = getattr(info, "sha", None) or self.revision
        endpoint = getattr(self._hub(), "endpoint", None) or self._endpoint
        out = []
        for sibling in info.siblings or []:
            lfs = getattr(sibling, "lfs", None)
            sha = getattr(lfs, "sha256", None) if lfs is not None else None
            out.append(
                RemoteFile(
                    path=check_relative(sibling.rfilename, where=self.describe()),
                    size=getattr(sibling, "size", None),
                    sha256=sha,
                    locator=hf_hub_url(self.repo, sibling.rfilename, revision=commit, endpoint=endpoint),
                )
            )
        if not out:
            raise SourceInvalid(f"{self.describe()} lists no files")
        return out

    def open(self, file: RemoteFile, offset: int):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return ranged_get(file.locator, offset, headers=headers, what=self.describe(), policy=self.policy)
