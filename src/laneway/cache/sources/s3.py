"""S3 source (and any S3-compatible store: MinIO, Ceph, R2) through boto3.

`s3://bucket/key` naming one object stages that object; anything else is a prefix whose
objects are staged under their paths relative to it. Reads resume with a ranged GetObject;
sizes are checked always, and MD5 where the ETag is one (a single-part upload's ETag is
the object's MD5; a multipart ETag is not, and is not checked).

Credentials come from the `credentialsSecret` value, either JSON
(`{"accessKeyId": ..., "secretAccessKey": ..., "sessionToken": ...}`) or the AWS credentials
file's `aws_access_key_id = ...` lines. Without one, requests go unsigned (a public bucket):
the host's own AWS credential chain (environment, `~/.aws`, instance metadata) is never
consulted, and neither are the host's AWS config files or endpoint variables, because the
bucket and endpoint are a team's choice and the host's identity is not the team's to use.

The endpoint is a team's URL: it is judged by the egress policy before the first request
(so a refusal reads as one) and every connection boto3 opens is judged again
(`laneway.egress.sync_http.guard_boto3`). With an endpoint, path-style addressing keeps the
host connected to exactly the endpoint's host.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from laneway.cache.errors import SourceInvalid, SourceUnavailable, egress_error
from laneway.cache.sources.base import CHUNK_BYTES, Opened, RemoteFile, check_relative
from laneway.egress.hosts import host_port
from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.egress.resolve import allowed_addresses
from laneway.redact import redact_url

_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def parse_credentials(text: str) -> S3Credentials:
    """Read a credentials Secret value (JSON or AWS ini lines). Raises SourceInvalid with the fix."""
    values: dict[str, str] = {}
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            raise SourceInvalid("the S3 credentials Secret holds invalid JSON; write {\"accessKeyId\": ..., \"secretAccessKey\": ...}") from None
        values = {str(k).lower().replace("_", ""): str(v) for k, v in doc.items()}
    else:
        for line in stripped.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip().lower().replace("_", "")] = value.strip()
    key_id = values.get("accesskeyid") or values.get("awsaccesskeyid")
    secret = values.get("secretaccesskey") or values.get("awssecretaccesskey")
    if not key_id or not secret:
        raise SourceInvalid(
            "the S3 credentials Secret needs an access key id and a secret access key "
            "(JSON {\"accessKeyId\", \"secretAccessKey\"} or 'aws_access_key_id = ...' lines)"
        )
    token = values.get("sessiontoken") or values.get("awssessiontoken")
    return S3Credentials(key_id, secret, token or None)


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise SourceInvalid(f"S3 uri {uri!r} names no bucket; write s3://bucket/prefix/")
    return bucket, key


class S3Source:
    def __init__(
        self,
        uri: str,
        *,
        region: str | None = None,
        endpoint: str | None = None,
        credentials: S3Credentials | None = None,
        client: Any = None,
        policy: EgressPolicy | None = None,
    ) -> None:
        self.uri = uri
        self.bucket, self.key = split_uri(uri)
        self.region = region
        self.endpoint = endpoint
        self._credentials = credentials
        self._client = client
        self.policy = policy or EgressPolicy()

    def describe(self) -> str:
        return self.uri + (f" at {redact_url(self.endpoint)}" if self.endpoint else "")

    def endpoint_url(self) -> str:
        """Where requests go: the endpoint, or AWS's regional S3 endpoint."""
        return self.endpoint or f"https://s3.{self.region or 'us-east-1'}.amazonaws.com"

    def fingerprint(self) -> str:
        return f"s3:{self.endpoint or ''}:{self.uri}"

    def client(self) -> Any:
        if self._client is None:
            from botocore import UNSIGNED
            from botocore.config import Config

            from laneway.cloud.aws import isolated_session

            self._check_endpoint()
            # The host's AWS configuration is not the team's: explicit credentials (or none:
            # UNSIGNED), and nothing read from the host's files, profile or variables.
            session = isolated_session()
            creds = self._credentials
            config = Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                s3={"addressing_style": "path"} if self.endpoint else {},
                signature_version=None if creds else UNSIGNED,
            )
            client = session.create_client(
                "s3",
                region_name=self.region or "us-east-1",
                endpoint_url=self.endpoint_url(),
                aws_access_key_id=creds.access_key_id if creds else None,
                aws_secret_access_key=creds.secret_access_key if creds else None,
                aws_session_token=creds.session_token if creds else None,
                config=config,
            )
            from laneway.egress.sync_http import guard_boto3

            self._client = guard_boto3(client, self.policy)
        return self._client

    def _check_endpoint(self) -> None:
        """Judge the endpoint before boto3 sees it, so a refusal says what refused it."""
        try:
            where = host_port(self.endpoint_url())
            allowed_addresses(self.policy, where.host, where.port)
        except EgressRefused as exc:
            raise egress_error(self.describe(), exc) from None
        except ValueError as exc:
            raise SourceInvalid(f"s3.endpoint: {exc}") from None

    def files(self) -> list[RemoteFile]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            objects = self._list(self.key)
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"listing {self.describe()} failed: {exc}; check the uri, endpoint and credentialsSecret") from None
        exact = [o for o in objects if o["Key"] == self.key]
        if exact and self.key:
            return [self._file(exact[0], self.key.rpartition("/")[2])]
        prefix = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        out = [
            self._file(o, check_relative(o["Key"][len(prefix):], where=self.uri))
            for o in objects
            if o["Key"].startswith(prefix) and not o["Key"].endswith("/")
        ]
        if not out:
            raise SourceInvalid(f"{self.describe()} holds no objects; upload the model there or fix spec.s3.uri")
        return out

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        paginator = self.client().get_paginator("list_objects_v2")
        out: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            out.extend(page.get("Contents", []))
        return out

    def _file(self, obj: dict[str, Any], path: str) -> RemoteFile:
        match = _MD5_ETAG.match(str(obj.get("ETag", "")))
        return RemoteFile(path=path, size=int(obj["Size"]), md5=match.group(1) if match else None, locator=obj["Key"])

    @contextmanager
    def open(self, file: RemoteFile, offset: int) -> Iterator[Opened]:
        from botocore.exceptions import BotoCoreError, ClientError

        if file.size is not None and offset >= file.size:
            yield Opened(start=offset, total=file.size, chunks=iter(()))
            return
        args = {"Bucket": self.bucket, "Key": file.locator}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            response = self.client().get_object(**args)
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"reading s3://{self.bucket}/{file.locator} failed: {exc}") from None
        start = offset if offset and "ContentRange" in response else 0
        body = response["Body"]
        try:
            yield Opened(start=start, total=file.size, chunks=_chunks(body, file.locator))
        finally:
            body.close()


def _chunks(body: Any, key: str) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    except (BotoCoreError, OSError) as exc:
        raise SourceUnavailable(f"the download of {key} broke off ({type(exc).__name__}); it resumes on the next try") from None
