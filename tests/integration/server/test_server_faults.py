"""A fault inside the server is logged and answered 500 without internals; never for a client mistake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_harness import RunningApi, run_api
from server_objects import collection

from laneway.store.base import StoreError
from laneway.store.memory import MemoryStore

INTERNAL_DETAIL = "/var/lib/secret-path/laneway.db is corrupt"


class BrokenListStore(MemoryStore):
    """Lists fail as a damaged backend would; everything else works."""

    def list(self, kind, **kwargs):  # type: ignore[override]
        name = kind if isinstance(kind, str) else kind.KIND
        if name == "ModelService":
            raise StoreError(INTERNAL_DETAIL)
        if name == "ModelCache":
            raise RuntimeError(INTERNAL_DETAIL)
        return super().list(kind, **kwargs)


@pytest.fixture
def broken() -> Iterator[RunningApi]:
    yield from run_api(BrokenListStore())


@pytest.mark.parametrize("plural", ["modelservices", "modelcaches"])
def test_faults_are_500_without_internals(broken: RunningApi, plural: str, caplog: pytest.LogCaptureFixture) -> None:
    with broken.client(broken.admin_token) as admin:
        response = admin.get(collection(plural, "ml-team"))
    assert response.status_code == 500
    body = response.json()
    assert body["kind"] == "Status" and body["reason"] == "InternalError"
    assert INTERNAL_DETAIL not in response.text
    assert INTERNAL_DETAIL in caplog.text  # the operator still finds it in the log
