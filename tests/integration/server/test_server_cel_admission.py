"""A device selector that does not compile is refused at the door (422 naming the field, with
the compiler's caret), on create, replace and merge patch, for every kind that carries one;
a selector already stored is not refused again on an unrelated edit, and the stored object
stays readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml
from server_harness import RunningApi
from server_objects import collection, deployment, replica

from laneway.api.kinds import ModelDeployment
from laneway.api.manifest import parse_object
from laneway.api.meta import ObjectKey

MERGE = {"Content-Type": "application/merge-patch+json"}
BAD = 'device.driver == "cpu.laneway.dev" &&'
GOOD = 'device.driver == "cpu.laneway.dev"'
FIELD = "spec.template.spec.engines[0].members[0].nodeSelector.devices[0].selectors[0].cel"
TICKET = Path(__file__).resolve().parents[3] / "examples" / "tickets" / "pr-review.yaml"


def with_selector(doc: dict[str, Any], cel: str) -> dict[str, Any]:
    doc["spec"]["template"]["spec"]["engines"][0]["members"][0]["nodeSelector"]["devices"][0]["selectors"] = [{"cel": cel}]
    return doc


def assert_cel_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason"] == "Invalid"
    assert [c["field"] for c in body["details"]["causes"]] == [field]
    assert field in body["message"] and "does not compile" in body["message"]
    # The compiler's caret message: the source on its own line, a caret under the spot.
    assert BAD in body["message"] and "^" in body["message"]


def test_create_replace_and_patch_refuse_a_selector_that_does_not_compile(admin: httpx.Client, api: RunningApi) -> None:
    items = collection("modeldeployments", "ml-team")
    assert_cel_refused(admin.post(items, json=with_selector(deployment(), BAD)), FIELD)
    assert api.store.list(ModelDeployment).items == [], "nothing was stored"

    created = admin.post(items, json=with_selector(deployment(), GOOD))
    assert created.status_code == 201, created.text
    assert_cel_refused(admin.put(f"{items}/llama", json=with_selector(created.json(), BAD)), FIELD)
    patch = {"spec": {"template": {"spec": {"engines": [with_selector(deployment(), BAD)["spec"]["template"]["spec"]["engines"][0]]}}}}
    assert_cel_refused(admin.patch(f"{items}/llama", json=patch, headers=MERGE), FIELD)
    stored = api.store.get(ModelDeployment, ObjectKey("ml-team", "llama"))
    assert stored.spec.template.spec.engines[0].members[0].node_selector.devices[0].selectors[0].cel == GOOD


def test_a_team_token_is_refused_the_same_way_and_every_bad_selector_is_named(api: RunningApi) -> None:
    doc = with_selector(deployment(), BAD)
    doc["spec"]["template"]["spec"]["engines"][0]["members"][0]["nodeSelector"]["devices"][0]["selectors"].append({"cel": "1 +* 2"})
    with api.client(api.token("team", "ml-team")) as team:
        response = team.post(collection("modeldeployments", "ml-team"), json=doc)
    assert response.status_code == 422, response.text
    fields = [c["field"] for c in response.json()["details"]["causes"]]
    assert fields == [FIELD, FIELD.replace("selectors[0]", "selectors[1]")]


def test_replica_claims_and_ticket_hardware_rows_are_checked_too(admin: httpx.Client) -> None:
    doc = replica()
    doc["spec"]["engines"][0]["members"][0]["deviceRequests"] = [
        {"name": "gpu", "deviceClassName": "gpu.nvidia.com", "selectors": [{"cel": BAD}]}
    ]
    assert_cel_refused(
        admin.post(collection("modelreplicas", "ml-team"), json=doc), "spec.engines[0].members[0].deviceRequests[0].selectors[0].cel"
    )
    ticket = parse_object(yaml.safe_load(TICKET.read_text())).wire()
    ticket["metadata"]["namespace"] = "ml-team"
    ticket["spec"]["hardware"]["devices"][0]["selectors"] = [{"cel": BAD}]
    assert_cel_refused(admin.post(collection("inferencetickets", "ml-team"), json=ticket), "spec.hardware.devices[0].selectors[0].cel")


def test_a_stored_selector_is_not_refused_again_and_stays_readable(admin: httpx.Client, api: RunningApi) -> None:
    """Stored before admission checked it (or by a later, stricter compiler): the object reads,
    and an edit that leaves the selector alone goes through; changing it to another bad one does not."""
    api.store.create(parse_object(with_selector(deployment(), BAD)))
    item = f"{collection('modeldeployments', 'ml-team')}/llama"
    read = admin.get(item)
    assert read.status_code == 200, read.text
    relabelled = admin.patch(item, json={"metadata": {"labels": {"tier": "gold"}}}, headers=MERGE)
    assert relabelled.status_code == 200, relabelled.text
    other = with_selector(relabelled.json(), BAD + " ||")
    response = admin.put(item, json=other)
    assert response.status_code == 422 and FIELD in response.text
