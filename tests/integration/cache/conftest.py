from __future__ import annotations

from collections.abc import Iterator

import pytest
from cache_servers import FakeHub, FileServer, MotoS3


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        yield server


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with MotoS3() as server:
        yield server
