"""celpy's parser is built from a cache file in the user's own cache directory, and never from
a directory anyone else could write (Lark reads the file with pickle)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import lark
import pytest
from celpy import celparser

from laneway.placement.dra.parser_cache import CACHE_FILE, build_cel_parser, private_cache_dir


@pytest.fixture
def fresh_parser() -> Iterator[None]:
    """celpy keeps one parser per process: set it aside, and put it back afterwards."""
    kept = celparser.CELParser.CEL_PARSER
    celparser.CELParser.CEL_PARSER = None
    try:
        yield
    finally:
        celparser.CELParser.CEL_PARSER = kept


def test_the_parser_is_written_to_the_cache_once_and_read_from_it_after(tmp_path: Path, fresh_parser: None) -> None:
    where = private_cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert where == tmp_path / "laneway"
    assert where.stat().st_mode & 0o777 == 0o700
    build_cel_parser(where)
    cached = where / CACHE_FILE
    assert cached.exists()
    first = celparser.CELParser().parse('device.attributes["gpu"].productName == "H100"')
    celparser.CELParser.CEL_PARSER = None
    written = cached.stat().st_mtime_ns
    build_cel_parser(where)
    assert cached.stat().st_mtime_ns == written, "the second build read the file instead of writing it"
    assert celparser.CELParser().parse('device.attributes["gpu"].productName == "H100"') == first
    assert vars(celparser)["Lark"] is lark.Lark, "celpy's Lark is put back"


def test_a_cache_directory_others_can_write_is_not_used(tmp_path: Path, fresh_parser: None) -> None:
    shared = tmp_path / "laneway"
    shared.mkdir()
    shared.chmod(0o777)
    assert private_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) is None
    (tmp_path / "file").write_text("")
    assert private_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "file")}) is None  # cannot be made
    build_cel_parser(None)  # no cache: celpy builds it as always
    assert celparser.CELParser.CEL_PARSER is not None
    assert not (shared / CACHE_FILE).exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a directory owned by another user")
def test_a_cache_directory_of_another_user_is_not_used(tmp_path: Path) -> None:
    theirs = tmp_path / "laneway"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    assert private_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) is None
