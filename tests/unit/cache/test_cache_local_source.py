"""Hydration from a Local path and a fake Hugging Face listing (no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from laneway.cache.errors import VerificationFailed
from laneway.cache.hydrate import hydrate
from laneway.cache.layout import MANIFEST, read_manifest
from laneway.cache.sources import HuggingFaceSource, LocalPathSource


def test_local_directory_is_copied_with_its_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "sub" / "w.bin").write_bytes(b"x" * 5000)
    dest = tmp_path / "cache" / "local" / "ml" / "m"
    result = hydrate(LocalPathSource(src), dest)
    assert (dest / "sub" / "w.bin").read_bytes() == b"x" * 5000
    assert result.manifest.files == 2 and result.manifest.bytes == 5002
    assert read_manifest(dest) == result.manifest


def test_in_place_marks_whole_only_with_the_manifest(tmp_path: Path) -> None:
    src = tmp_path / "m.gguf"
    src.write_bytes(b"abc")
    dest = tmp_path / "volume"
    hydrate(LocalPathSource(src), dest, in_place=True)
    assert (dest / "m.gguf").read_bytes() == b"abc" and (dest / MANIFEST).exists()


def test_a_changed_source_restages(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "w").write_bytes(b"old")
    (b / "w").write_bytes(b"new")
    dest = tmp_path / "c"
    hydrate(LocalPathSource(a), dest)
    hydrate(LocalPathSource(b), dest)
    assert (dest / "w").read_bytes() == b"new"


class FakeHub:
    def __init__(self, siblings: list[SimpleNamespace]) -> None:
        self.siblings = siblings

    def model_info(self, repo: str, revision: str | None, files_metadata: bool) -> SimpleNamespace:
        assert files_metadata
        return SimpleNamespace(sha="c0ffee", siblings=self.siblings)


def test_huggingface_listing_carries_sizes_and_lfs_checksums() -> None:
    sha = hashlib.sha256(b"w").hexdigest()
    hub = FakeHub([SimpleNamespace(rfilename="config.json", size=2, lfs=None), SimpleNamespace(rfilename="model.safetensors", size=1, lfs=SimpleNamespace(sha256=sha))])
    files = HuggingFaceSource("Qwen/Qwen3-0.6B", api=hub).files()
    assert [(f.path, f.size, f.sha256) for f in files] == [("config.json", 2, None), ("model.safetensors", 1, sha)]
    assert files[1].locator.endswith("/Qwen/Qwen3-0.6B/resolve/c0ffee/model.safetensors")


def test_local_file_size_mismatch_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "w"
    src.write_bytes(b"abcd")
    source = LocalPathSource(src)
    (file,) = source.files()

    class Shrunk(LocalPathSource):
        def files(self):  # type: ignore[no-untyped-def]
            return [file.__class__(path=file.path, size=10, locator=file.locator)]

    with pytest.raises(VerificationFailed, match="size is 4 bytes, the source says 10"):
        hydrate(Shrunk(src), tmp_path / "c")
