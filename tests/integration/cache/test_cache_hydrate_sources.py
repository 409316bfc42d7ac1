"""Hydration from real servers on loopback: an HTTP file server and moto's S3 server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cache_servers import FileServer, MotoS3

from laneway.cache.errors import SourceUnavailable, VerificationFailed
from laneway.cache.hydrate import Progress, hydrate
from laneway.cache.layout import read_manifest, staging_path
from laneway.cache.sources import HTTPFileSource, S3Source
from laneway.cache.sources.s3 import S3Credentials
from laneway.testing.fleet import loopback_policy

LOOPBACK = loopback_policy()  # the test servers listen on 127.0.0.1, a door the platform opens

WEIGHTS = os.urandom(3 * 1024 * 1024 + 123)


def test_http_download_lands_verified(file_server: FileServer, tmp_path: Path) -> None:
    file_server.state.files["/models/tiny.gguf"] = WEIGHTS
    dest = tmp_path / "cache" / "local" / "team" / "tiny"
    source = HTTPFileSource(file_server.url + "/models/tiny.gguf", sha256=hashlib.sha256(WEIGHTS).hexdigest(), policy=LOOPBACK)
    progress = Progress()
    result = hydrate(source, dest, progress=progress)
    assert (dest / "tiny.gguf").read_bytes() == WEIGHTS
    assert result.manifest.bytes == len(WEIGHTS) and not result.already_ready
    assert progress.done == len(WEIGHTS)
    assert not staging_path(dest).exists()
    # a second hydration finds it whole and reads nothing
    gets = file_server.state.gets
    assert hydrate(source, dest).already_ready
    assert file_server.state.gets == gets


def test_http_interrupted_download_resumes_with_range(file_server: FileServer, tmp_path: Path) -> None:
    file_server.state.files["/w.bin"] = WEIGHTS
    file_server.state.cut_after = 1024 * 1024
    dest = tmp_path / "c"
    source = HTTPFileSource(file_server.url + "/w.bin", sha256=hashlib.sha256(WEIGHTS).hexdigest(), policy=LOOPBACK)
    with pytest.raises(SourceUnavailable):
        hydrate(source, dest)
    assert not dest.exists(), "nothing half written is ever at the final path"
    part = staging_path(dest) / "w.bin.part"
    kept = part.stat().st_size
    assert 0 < kept < len(WEIGHTS)
    hydrate(source, dest)
    assert (dest / "w.bin").read_bytes() == WEIGHTS
    assert file_server.state.ranges[-1] == f"bytes={kept}-"


def test_http_checksum_mismatch_fails_and_discards(file_server: FileServer, tmp_path: Path) -> None:
    file_server.state.files["/w.bin"] = WEIGHTS
    dest = tmp_path / "c"
    source = HTTPFileSource(file_server.url + "/w.bin", sha256="0" * 64, policy=LOOPBACK)
    with pytest.raises(VerificationFailed, match="SHA-256"):
        hydrate(source, dest)
    assert not dest.exists()
    assert not (staging_path(dest) / "w.bin.part").exists()
    assert read_manifest(dest) is None


def test_http_missing_file_says_which(file_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="404"):
        hydrate(HTTPFileSource(file_server.url + "/nope.bin", policy=LOOPBACK), tmp_path / "c")


def _s3(moto: MotoS3, uri: str) -> S3Source:
    return S3Source(uri, endpoint=moto.endpoint, region="us-east-1", credentials=S3Credentials("testing", "testing"), policy=LOOPBACK)


def test_s3_prefix_lands_with_relative_paths(moto_s3: MotoS3, tmp_path: Path) -> None:
    client = moto_s3.client()
    client.create_bucket(Bucket="weights")
    client.put_object(Bucket="weights", Key="qwen/config.json", Body=b'{"a": 1}')
    client.put_object(Bucket="weights", Key="qwen/shards/model-1.safetensors", Body=WEIGHTS)
    client.put_object(Bucket="weights", Key="other/x", Body=b"no")
    dest = tmp_path / "c"
    result = hydrate(_s3(moto_s3, "s3://weights/qwen"), dest)
    assert (dest / "config.json").read_bytes() == b'{"a": 1}'
    assert (dest / "shards" / "model-1.safetensors").read_bytes() == WEIGHTS
    assert not (dest / "x").exists()
    assert result.manifest.files == 2


def test_s3_resumes_a_partial_object(moto_s3: MotoS3, tmp_path: Path) -> None:
    client = moto_s3.client()
    client.create_bucket(Bucket="resume")
    client.put_object(Bucket="resume", Key="m/model.bin", Body=WEIGHTS)
    dest = tmp_path / "c"
    part = staging_path(dest) / "model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(WEIGHTS[:500_000])  # what an interrupted attempt left behind
    hydrate(_s3(moto_s3, "s3://resume/m/"), dest)
    assert (dest / "model.bin").read_bytes() == WEIGHTS


def test_s3_corrupt_partial_is_caught_by_md5(moto_s3: MotoS3, tmp_path: Path) -> None:
    client = moto_s3.client()
    client.create_bucket(Bucket="corrupt")
    client.put_object(Bucket="corrupt", Key="model.bin", Body=WEIGHTS)
    dest = tmp_path / "c"
    part = staging_path(dest) / "model.bin.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # wrong bytes: resuming after them cannot verify
    with pytest.raises(VerificationFailed, match="MD5"):
        hydrate(_s3(moto_s3, "s3://corrupt/model.bin"), dest)
    hydrate(_s3(moto_s3, "s3://corrupt/model.bin"), dest)  # the next try starts over
    assert (dest / "model.bin").read_bytes() == WEIGHTS


def test_s3_empty_prefix_is_refused_with_the_fix(moto_s3: MotoS3, tmp_path: Path) -> None:
    moto_s3.client().create_bucket(Bucket="empty")
    with pytest.raises(Exception, match="holds no objects"):
        hydrate(_s3(moto_s3, "s3://empty/models/"), tmp_path / "c")


def test_s3_ignores_the_hosts_profile_and_credentials(moto_s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_PROFILE naming a profile that does not exist used to fail every S3 cache with
    botocore's ProfileNotFound before any request; the host's keys and config are not the
    team's either, so neither is used."""
    client = moto_s3.client()
    client.create_bucket(Bucket="profiled")
    client.put_object(Bucket="profiled", Key="m/model.bin", Body=b"weights")
    config = tmp_path / "aws-config"
    config.write_text("[profile elsewhere]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9\n")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTHOST00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-host-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    source = _s3(moto_s3, "s3://profiled/m/")
    hydrate(source, tmp_path / "c")
    assert (tmp_path / "c" / "model.bin").read_bytes() == b"weights"
    assert source.client()._request_signer._credentials.access_key == "testing", "the Secret's key, not the host's"
    unsigned = S3Source("s3://profiled/m/", endpoint=moto_s3.endpoint, region="us-east-1", policy=LOOPBACK)
    assert unsigned.client()._request_signer._credentials is None, "no Secret: unsigned, never the host's keys"
