"""What schemathesis found where the server and its OpenAPI document disagreed, kept as plain
regression tests over real HTTP (the fuzzer draws its cases anew when the document changes)."""

from __future__ import annotations

import httpx
from server_objects import APIS, cluster, collection, deployment


def _refused(response: httpx.Response, code: int, field: str) -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["kind"] == "Status" and body["code"] == code
    assert field in [c["field"] for c in body["details"]["causes"]], body


def test_a_ticket_check_with_repeated_device_names_is_invalid_not_a_fault(admin: httpx.Client) -> None:
    ticket = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "InferenceTicket",
        "metadata": {"name": "t", "namespace": "ml-team"},
        "spec": {"hardware": {"devices": [{"name": "gpu"}, {"name": "gpu"}]}},
    }
    _refused(admin.post(f"{APIS}/ticketchecks", json=ticket), 422, "spec.hardware.devices")
    _refused(admin.post(collection("inferencetickets", "ml-team"), json=ticket), 422, "spec.hardware.devices")


def test_server_set_metadata_of_the_wrong_type_is_refused_on_create(admin: httpx.Client) -> None:
    body = deployment("typed")
    body["metadata"]["deletionTimestamp"] = {}
    _refused(admin.post(collection("modeldeployments", "ml-team"), json=body), 422, "metadata.deletionTimestamp")
    body["metadata"]["deletionTimestamp"] = None
    body["metadata"]["generation"] = True
    _refused(admin.post(collection("modeldeployments", "ml-team"), json=body), 422, "metadata.generation")
    body["metadata"].pop("generation")
    body["metadata"]["uid"] = "ignored-on-create"
    created = admin.post(collection("modeldeployments", "ml-team"), json=body)
    assert created.status_code == 201 and created.json()["metadata"]["uid"] != "ignored-on-create"


def test_a_cluster_scoped_object_takes_no_namespace_of_any_kind(admin: httpx.Client) -> None:
    body = cluster("edge")
    assert admin.post(collection("inferenceclusters"), json=body).status_code == 201
    for namespace in ({}, [], 0, "x"):
        body["metadata"]["namespace"] = namespace
        _refused(admin.put(f"{collection('inferenceclusters')}/edge", json=body), 422, "metadata.namespace")
    body["metadata"]["namespace"] = ""
    assert admin.put(f"{collection('inferenceclusters')}/edge", json=body).status_code == 200
