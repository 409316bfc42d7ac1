"""The sources a ModelCache stages weights from, and `source_for(spec)` that picks one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from laneway.api.kinds.cache import ModelCacheSpec
from laneway.api.kinds.common import SecretKeyRef
from laneway.cache.errors import SourceInvalid
from laneway.cache.sources.base import Opened, RemoteFile, Source
from laneway.cache.sources.http import HTTPFileSource
from laneway.cache.sources.huggingface import HuggingFaceSource, hub_endpoint
from laneway.cache.sources.local import LocalPathSource, cache_roots
from laneway.cache.sources.s3 import S3Source, parse_credentials
from laneway.egress.policy import EgressPolicy

SecretLookup = Callable[[SecretKeyRef], "str | None"]
"""The value of a Secret key in the cache's namespace, or None when it is missing."""


def _secret(lookup: SecretLookup, ref: SecretKeyRef | None, field: str) -> str | None:
    if ref is None:
        return None
    value = lookup(ref)
    if value is None:
        raise SourceInvalid(f"{field}: Secret {ref.name!r} with key {ref.key!r} was not found in the cache's namespace; create it")
    return value


def credential_ref(spec: ModelCacheSpec) -> SecretKeyRef | None:
    """The laneway Secret (in the cache's namespace) whose value staging this source needs, if any."""
    if spec.hugging_face is not None and spec.hugging_face.auth_secret is not None:
        return spec.hugging_face.auth_secret
    if spec.s3 is not None and spec.s3.credentials_secret is not None:
        return spec.s3.credentials_secret
    if spec.http is not None and spec.http.auth_secret is not None:
        return spec.http.auth_secret
    return None


def source_for(
    spec: ModelCacheSpec, secrets: SecretLookup, *, policy: EgressPolicy | None = None, roots: Sequence[str] | None = None, cluster: str = ""
) -> Source:
    """The Source a cache spec names, with its credentials resolved, its connections judged by
    `policy` (the default policy when None) and, for a Local source, confined to `roots`."""
    policy = policy or EgressPolicy()
    if spec.source == "HTTP" and spec.http is not None:
        return HTTPFileSource(
            spec.http.url, sha256=spec.http.sha256, bearer=_secret(secrets, spec.http.auth_secret, "http.authSecret"), policy=policy
        )
    if spec.source == "S3" and spec.s3 is not None:
        raw = _secret(secrets, spec.s3.credentials_secret, "s3.credentialsSecret")
        return S3Source(
            spec.s3.uri,
            region=spec.s3.region,
            endpoint=spec.s3.endpoint,
            credentials=parse_credentials(raw) if raw is not None else None,
            policy=policy,
        )
    if spec.source == "HuggingFace" and spec.hugging_face is not None:
        hf = spec.hugging_face
        return HuggingFaceSource(hf.repo, revision=hf.revision, token=_secret(secrets, hf.auth_secret, "huggingFace.authSecret"), policy=policy)
    if spec.source == "Local" and spec.local is not None:
        return LocalPathSource(spec.local.path, roots=roots, cluster=cluster)
    raise SourceInvalid(f"source {spec.source} has no block; add it")


def credential_destination(spec: ModelCacheSpec) -> str | None:
    """The URL a cache's credential is sent to (None for a source without one): what a
    platform-written Secret's destinations are checked against."""
    if spec.source == "HTTP" and spec.http is not None and spec.http.auth_secret is not None:
        return spec.http.url
    if spec.source == "S3" and spec.s3 is not None and spec.s3.credentials_secret is not None:
        return S3Source(spec.s3.uri, region=spec.s3.region, endpoint=spec.s3.endpoint).endpoint_url()
    if spec.source == "HuggingFace" and spec.hugging_face is not None and spec.hugging_face.auth_secret is not None:
        return hub_endpoint()
    return None


__all__ = ["HTTPFileSource", "HuggingFaceSource", "LocalPathSource", "Opened", "RemoteFile", "S3Source", "SecretLookup", "Source", "cache_roots", "credential_destination", "credential_ref", "source_for"]
