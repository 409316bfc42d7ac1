"""Secrets are write-only: no read path returns a value, and a redacted read written back keeps them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from server_harness import RunningApi, run_api
from server_objects import collection, secret

from laneway.api.kinds.secret import Secret
from laneway.api.meta import ObjectKey
from laneway.store.sqlite import SqliteStore

MERGE = {"Content-Type": "application/merge-patch+json"}
VALUE = "very-secret-value"


def stored_value(api: RunningApi, name: str, key: str) -> str | None:
    obj = api.store.get("Secret", ObjectKey("ml-team", name))
    assert isinstance(obj, Secret)
    return obj.value(key)


@pytest.fixture
def sqlite_api(tmp_path) -> Iterator[RunningApi]:
    store = SqliteStore(tmp_path / "laneway.db")
    try:
        yield from run_api(store)
    finally:
        store.close()


def test_no_read_returns_a_value(sqlite_api: RunningApi) -> None:
    api = sqlite_api
    with api.client(api.admin_token) as admin:
        url = collection("secrets", "ml-team")
        responses = [admin.post(url, json=secret(token=VALUE))]
        responses.append(admin.get(f"{url}/key"))
        responses.append(admin.get(url))
        responses.append(admin.get(collection("secrets")))
        responses.append(admin.patch(f"{url}/key", json={"stringData": {"other": "x"}}, headers=MERGE))
        for response in responses:
            assert response.status_code in (200, 201), response.text
            assert VALUE not in response.text
            assert base64.b64encode(VALUE.encode()).decode() not in response.text
            assert "stringData" not in response.text
        assert responses[1].json()["data"] == {"token": "<redacted>"}
        assert stored_value(api, "key", "token") == VALUE
        assert stored_value(api, "key", "other") == "x"


def test_redacted_read_written_back_keeps_values(api: RunningApi, admin: httpx.Client) -> None:
    url = collection("secrets", "ml-team")
    admin.post(url, json=secret(token=VALUE))
    read = admin.get(f"{url}/key").json()
    read["data"]["extra"] = base64.b64encode(b"new").decode()
    assert admin.put(f"{url}/key", json=read).status_code == 200
    assert stored_value(api, "key", "token") == VALUE
    assert stored_value(api, "key", "extra") == "new"


def test_placeholder_without_a_stored_value_is_refused(admin: httpx.Client) -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}, "data": {"token": "<redacted>"}}
    response = admin.post(collection("secrets", "ml-team"), json=doc)
    assert response.status_code == 422
    assert response.json()["details"]["causes"][0]["field"] == "data.token"


def test_secret_values_never_reach_the_log(admin: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    admin.post(collection("secrets", "ml-team"), json=secret(token=VALUE))
    admin.get(f"{collection('secrets', 'ml-team')}/key")
    assert VALUE not in caplog.text and VALUE not in json.dumps([r.getMessage() for r in caplog.records])
