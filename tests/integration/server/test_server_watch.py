"""`?watch=true` over real HTTP: current state first, then live events, and 410 for lost history."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from server_harness import RunningApi, run_api
from server_objects import collection, deployment, secret

from laneway.store.memory import MemoryStore

MERGE = {"Content-Type": "application/merge-patch+json"}


def events(response: httpx.Response) -> Iterator[dict]:
    for line in response.iter_lines():
        if line.strip():
            yield json.loads(line)


def test_watch_sends_current_state_then_changes(api: RunningApi, admin: httpx.Client) -> None:
    url = collection("modeldeployments", "ml-team")
    admin.post(url, json=deployment("first"))
    with admin.stream("GET", url, params={"watch": "true", "timeoutSeconds": "30"}) as stream:
        assert stream.status_code == 200
        seen = events(stream)
        first = next(seen)
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "first")
        admin.post(url, json=deployment("second"))
        admin.patch(f"{url}/first", json={"spec": {"replicas": 2}}, headers=MERGE)
        admin.delete(f"{url}/second")
        admin.post(collection("modeldeployments", "elsewhere"), json=deployment("third", "elsewhere"))
        admin.post(url, json=deployment("fourth"))
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in (next(seen) for _ in range(4))]
    assert got == [("ADDED", "second"), ("MODIFIED", "first"), ("DELETED", "second"), ("ADDED", "fourth")]


def test_watch_from_resource_version_and_label_selector(admin: httpx.Client) -> None:
    url = collection("modeldeployments", "ml-team")
    rv = admin.post(url, json=deployment("a", tier="gold")).json()["metadata"]["resourceVersion"]
    admin.post(url, json=deployment("b", tier="silver"))
    params = {"watch": "1", "resourceVersion": rv, "labelSelector": "tier=gold", "timeoutSeconds": "30"}
    with admin.stream("GET", collection("modeldeployments"), params=params) as stream:
        seen = events(stream)
        admin.patch(f"{url}/b", json={"metadata": {"labels": {"tier": "gold"}}}, headers=MERGE)
        event = next(seen)
        assert (event["type"], event["object"]["metadata"]["name"]) == ("MODIFIED", "b")
        admin.patch(f"{url}/b", json={"metadata": {"labels": {"tier": "bronze"}}}, headers=MERGE)
        event = next(seen)
        assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "b")


def test_watch_ends_after_timeout(admin: httpx.Client) -> None:
    with admin.stream("GET", collection("modeldeployments"), params={"watch": "true", "timeoutSeconds": "0"}) as stream:
        assert list(events(stream)) == []


def test_watched_secrets_are_redacted(admin: httpx.Client) -> None:
    url = collection("secrets", "ml-team")
    with admin.stream("GET", url, params={"watch": "true", "timeoutSeconds": "30"}) as stream:
        seen = events(stream)
        admin.post(url, json=secret(token="watch-me-not"))
        event = next(seen)
    assert event["object"]["data"] == {"token": "<redacted>"}
    assert "watch-me-not" not in json.dumps(event)


@pytest.fixture
def short_history() -> Iterator[RunningApi]:
    yield from run_api(MemoryStore(event_retention=2))


def test_watch_from_compacted_revision_is_gone(short_history: RunningApi) -> None:
    with short_history.client(short_history.admin_token) as admin:
        url = collection("modeldeployments", "ml-team")
        for i in range(5):
            admin.post(url, json=deployment(f"d{i}"))
        response = admin.get(url, params={"watch": "true", "resourceVersion": "1"})
        assert response.status_code == 410
        body = response.json()
        assert body["kind"] == "Status" and body["reason"] == "Expired" and "list again" in body["message"]


def test_bad_watch_parameters(admin: httpx.Client) -> None:
    response = admin.get(collection("modeldeployments"), params={"watch": "true", "resourceVersion": "abc"})
    assert response.status_code == 400 and response.json()["kind"] == "Status"
    huge = str(2**64)  # past the store's 64-bit integers: a client mistake, not a fault
    response = admin.get(collection("modeldeployments"), params={"watch": "true", "resourceVersion": huge})
    assert response.status_code == 400 and "resourceVersion must be at most" in response.json()["message"]


def test_server_stop_ends_open_watches() -> None:
    runner = run_api(MemoryStore())
    api = next(runner)
    with api.client(api.admin_token) as admin:
        with admin.stream("GET", collection("modeldeployments"), params={"watch": "true"}) as stream:
            assert stream.status_code == 200
            with pytest.raises(StopIteration):
                next(runner)  # stops the server while the watch is open; must not hang
            assert list(events(stream)) == []
