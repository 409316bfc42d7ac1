"""The two lanes over real HTTP: who may write what, tokens, and refusals that say what would work."""

from __future__ import annotations

import httpx
from server_harness import RunningApi
from server_objects import cluster, collection, deployment, endpoint, replica, secret

MERGE = {"Content-Type": "application/merge-patch+json"}


def refused(response: httpx.Response, code: int = 403) -> str:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["kind"] == "Status" and body["code"] == code
    return body["message"]


def test_requests_need_a_known_token(api: RunningApi) -> None:
    with api.client() as anonymous:
        message = refused(anonymous.get(collection("modeldeployments")), 401)
        assert "Bearer" in message
    with api.client("lw_not-a-real-token") as stranger:
        refused(stranger.get(collection("modeldeployments")), 401)


def test_team_token(api: RunningApi, admin: httpx.Client) -> None:
    with api.client(api.token("team", "ml-team")) as team:
        message = refused(team.post(collection("inferenceclusters"), json=cluster()))
        assert "platform" in message
        message = refused(team.post(collection("modeldeployments", "other"), json=deployment(namespace="other")))
        assert "--namespace other" in message
        refused(team.post(collection("modelreplicas", "ml-team"), json=replica()))
        refused(team.post(collection("secrets", "laneway-system"), json=secret(namespace="laneway-system")))

        assert team.post(collection("modeldeployments", "ml-team"), json=deployment()).status_code == 201
        assert team.post(collection("modelendpoints", "ml-team"), json=endpoint()).status_code == 201
        assert team.post(collection("secrets", "ml-team"), json=secret()).status_code == 201
        assert team.put(f"{collection('modeldeployments', 'ml-team')}/llama/scale", json={"spec": {"replicas": 3}}).status_code == 200

        admin.post(collection("inferenceclusters"), json=cluster())
        admin.post(collection("modeldeployments", "other"), json=deployment(namespace="other"))
        assert team.get(f"{collection('inferenceclusters')}/local").status_code == 200
        refused(team.get(f"{collection('modeldeployments', 'other')}/llama"))
        everywhere = team.get(collection("modeldeployments")).json()["items"]
        assert {i["metadata"]["namespace"] for i in everywhere} == {"ml-team"}
        assert [n["metadata"]["name"] for n in team.get("/api/v1/namespaces").json()["items"]] == ["ml-team"]
        refused(team.post("/apis/laneway.dev/v1alpha1/tokens", json={"role": "admin"}))


def test_team_never_writes_a_composed_object(api: RunningApi, admin: httpx.Client) -> None:
    owner = admin.post(collection("modeldeployments", "ml-team"), json=deployment()).json()
    composed = endpoint("llama-0")
    composed["metadata"]["ownerReferences"] = [
        {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelDeployment", "name": "llama",
         "uid": owner["metadata"]["uid"], "controller": True}
    ]
    assert admin.post(collection("modelendpoints", "ml-team"), json=composed).status_code == 201
    with api.client(api.token("team", "ml-team")) as team:
        url = f"{collection('modelendpoints', 'ml-team')}/llama-0"
        message = refused(team.patch(url, json={"spec": {"url": "https://evil.example.com"}}, headers=MERGE))
        assert "composed by ModelDeployment" in message
        refused(team.delete(url))
        composed["metadata"]["name"] = "fake"
        refused(team.post(collection("modelendpoints", "ml-team"), json=composed))
        refused(team.patch(f"{url}/status", json={"status": {"ready": True}}, headers=MERGE))


def test_platform_token(api: RunningApi) -> None:
    with api.client(api.token("platform")) as platform:
        assert platform.post(collection("inferenceclusters"), json=cluster()).status_code == 201
        assert platform.patch(f"{collection('inferenceclusters')}/local", json={"metadata": {"labels": {"tier": "gold"}}},
                              headers=MERGE).status_code == 200
        assert platform.post(collection("secrets", "laneway-system"), json=secret("kubeconfig", "laneway-system")).status_code == 201
        message = refused(platform.post(collection("secrets", "ml-team"), json=secret()))
        assert "laneway-system" in message
        refused(platform.post(collection("modeldeployments", "ml-team"), json=deployment()))
        assert platform.get(collection("modeldeployments")).status_code == 200
        assert platform.delete(f"{collection('inferenceclusters')}/local").status_code == 200


def test_admin_creates_tokens_once(api: RunningApi, admin: httpx.Client) -> None:
    created = admin.post("/apis/laneway.dev/v1alpha1/tokens", json={"role": "team", "namespaces": ["ml-team"], "description": "ci"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "team" and body["namespaces"] == ["ml-team"] and body["token"].startswith("lw_")
    listed = admin.get("/apis/laneway.dev/v1alpha1/tokens").json()["items"]
    assert body["token"] not in str(listed) and body["id"] in {t["id"] for t in listed}
    with api.client(body["token"]) as team:
        assert team.post(collection("modeldeployments", "ml-team"), json=deployment()).status_code == 201
    bad = admin.post("/apis/laneway.dev/v1alpha1/tokens", json={"role": "team"})
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "namespaces"


def test_platform_token_flips_break_glass_and_nothing_else(api: RunningApi) -> None:
    service = {
        "apiVersion": "laneway.dev/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "chat", "namespace": "ml-team"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"laneway.dev/deployment": "chat"}}}], "modelNames": ["chat"]},
    }
    item = f"{collection('modelservices', 'ml-team')}/chat"
    merge = {"Content-Type": "application/merge-patch+json"}
    with api.client(api.token("team", "ml-team")) as team, api.client(api.token("platform")) as platform:
        assert team.post(collection("modelservices", "ml-team"), json=service).status_code == 201
        flipped = platform.patch(item, json={"spec": {"breakGlass": True}}, headers=merge)
        assert flipped.status_code == 200, flipped.text
        assert team.get(item).json()["spec"]["breakGlass"] is True
        message = refused(platform.patch(item, json={"spec": {"modelNames": ["stolen"]}}, headers=merge))
        assert "only spec.breakGlass" in message
        refused(platform.patch(item, json={"spec": {"breakGlass": False}, "metadata": {"labels": {"x": "y"}}}, headers=merge))
        refused(platform.delete(item))
        refused(platform.post(collection("modelservices", "ml-team"), json={**service, "metadata": {"name": "new", "namespace": "ml-team"}}))
        stored = team.get(item).json()
        assert stored["spec"]["modelNames"] == ["chat"] and stored["spec"]["breakGlass"] is True
        assert stored["metadata"].get("labels", {}) == {}
