"""`spec.routing.policy` at admission over real HTTP: a team may pick a registered balancing
policy, and a name no policy registered (a typo, or an attempt to make the server import or
evaluate something) is refused with 422 naming the registered ones, and nothing is stored."""

from __future__ import annotations

import sys
from typing import Any

import httpx
from server_harness import RunningApi
from server_objects import GV, collection

from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey
from laneway.gateway.policy import policy_names

MERGE = {"Content-Type": "application/merge-patch+json"}


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "ModelService",
        "metadata": {"name": name, "namespace": "ml-team"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"app": "chat"}}}], **spec},
    }


def test_team_names_a_registered_policy_and_unknown_ones_are_refused(api: RunningApi) -> None:
    url = collection("modelservices", "ml-team")
    with api.client(api.token("team", "ml-team")) as team:
        created = team.post(url, json=service("chat", routing={"policy": "LeastOutstanding"}))
        assert created.status_code == 201, created.text
        assert created.json()["spec"]["routing"] == {"policy": "LeastOutstanding"}

        for hostile in ("RoundRobin", "antigravity", "os.system", "laneway.gateway.policy.BalancingPolicy", "__import__"):
            refused = team.post(url, json=service("other", routing={"policy": hostile}))
            assert refused.status_code == 422, refused.text
            body = refused.json()
            assert body["reason"] == "Invalid"
            causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
            assert "spec.routing.policy" in causes
            assert all(name in causes["spec.routing.policy"] for name in policy_names())

        patched = team.patch(f"{url}/chat", json={"spec": {"routing": {"policy": "Nope"}}}, headers=MERGE)
        assert patched.status_code == 422, patched.text

    assert "antigravity" not in sys.modules
    assert api.store.find(ModelService, ObjectKey("ml-team", "other")) is None
    stored = api.store.get(ModelService, ObjectKey("ml-team", "chat"))
    assert stored.spec.routing_policy == "LeastOutstanding"
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {api.admin_token}"}) as admin:
        assert admin.get(f"{url}/chat").json()["spec"]["routing"]["policy"] == "LeastOutstanding"
