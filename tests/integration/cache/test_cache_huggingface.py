"""The Hugging Face source against a fake Hub on loopback: the listing through
`huggingface_hub`, downloads resumed with Range and checked against the LFS SHA-256, a
missing repository named as such, and the hydration Job's entry point honouring HF_ENDPOINT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cache_servers import FakeHub

from laneway.cache.errors import SourceInvalid, SourceUnavailable, VerificationFailed
from laneway.cache.hydrate import hydrate
from laneway.cache.layout import read_manifest, staging_path
from laneway.cache.sources import HuggingFaceSource
from laneway.testing.fleet import LOOPBACK_EGRESS, loopback_policy

LOOPBACK = loopback_policy()  # the fake Hub listens on 127.0.0.1, a door the platform opens

REPO = "tiny-org/tiny-llama"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WEIGHTS = os.urandom(2 * 1024 * 1024 + 7)
CONFIG = b'{"architectures": ["LlamaForCausalLM"]}'


def _publish(hub: FakeHub, **kw: object) -> None:
    hub.add_repo(REPO, COMMIT, {"config.json": CONFIG, "weights/model.safetensors": WEIGHTS}, lfs={"weights/model.safetensors"}, **kw)  # type: ignore[arg-type]


def test_repository_lands_at_the_resolved_commit_and_resumes(fake_hub: FakeHub, tmp_path: Path) -> None:
    _publish(fake_hub)
    fake_hub.state.cut_after = 3 * 512 * 1024  # the weights download breaks off after a whole 1 MiB chunk
    source = HuggingFaceSource(REPO, revision="main", endpoint=fake_hub.url, policy=LOOPBACK)
    dest = tmp_path / "cache"
    with pytest.raises(SourceUnavailable, match=r"broke off|resumes"):
        hydrate(source, dest)
    assert read_manifest(dest) is None, "nothing half written is marked whole"
    hydrate(source, dest)
    assert (dest / "config.json").read_bytes() == CONFIG
    assert (dest / "weights" / "model.safetensors").read_bytes() == WEIGHTS
    assert fake_hub.state.ranges[-1] == "bytes=1048576-", "the second try resumed where the first stopped"
    assert read_manifest(dest).files == 2  # type: ignore[union-attr]


def test_lfs_checksum_mismatch_fails_and_discards(fake_hub: FakeHub, tmp_path: Path) -> None:
    _publish(fake_hub, wrong_sha=frozenset({"weights/model.safetensors"}))
    dest = tmp_path / "cache"
    with pytest.raises(VerificationFailed, match="SHA-256"):
        hydrate(HuggingFaceSource(REPO, endpoint=fake_hub.url, policy=LOOPBACK), dest)
    assert not dest.exists() and not (staging_path(dest) / "weights" / "model.safetensors.part").exists()


def test_missing_repository_says_what_to_check(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.missing_repo("tiny-org/nope")
    with pytest.raises(SourceInvalid, match=r"was not found.*check repo and revision"):
        hydrate(HuggingFaceSource("tiny-org/nope", revision="main", endpoint=fake_hub.url, policy=LOOPBACK), tmp_path / "cache")


def test_hydration_job_entry_point_honours_hf_endpoint(fake_hub: FakeHub, tmp_path: Path) -> None:
    _publish(fake_hub)
    dest = tmp_path / "volume"
    dest.mkdir()
    env = {**os.environ, "HF_ENDPOINT": fake_hub.url, "LANEWAY_CACHE_DEST": str(dest),
           "LANEWAY_EGRESS": json.dumps([{"gateway": "test", "egress": LOOPBACK_EGRESS}]),
           "LANEWAY_CACHE_SPEC": json.dumps({"source": "HuggingFace", "huggingFace": {"repo": REPO, "revision": "main"}})}
    done = subprocess.run([sys.executable, "-m", "laneway.cache"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (dest / "weights" / "model.safetensors").read_bytes() == WEIGHTS
    assert "2 files" in done.stdout
