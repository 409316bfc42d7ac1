"""Every verb over real HTTP, and every refusal as a Kubernetes Status with its causes."""

from __future__ import annotations

import httpx
from server_objects import APIS, cluster, collection, deployment

MERGE = {"Content-Type": "application/merge-patch+json"}


def assert_status(response: httpx.Response, code: int, reason: str) -> dict:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason
    assert body["message"]
    return body


def test_create_get_list_replace_delete(admin: httpx.Client) -> None:
    created = admin.post(collection("modeldeployments", "ml-team"), json=deployment(app="llama"))
    assert created.status_code == 201, created.text
    meta = created.json()["metadata"]
    assert meta["uid"] and meta["generation"] == 1 and meta["resourceVersion"]
    assert created.json()["status"]["replicas"]["total"] == 0
    # its first revision is recorded with the create, so the rollout controller need not write it again
    assert meta["annotations"]["laneway.dev/revision"] == "1"
    assert '"revision":1' in meta["annotations"]["laneway.dev/revision-history"]

    item = f"{collection('modeldeployments', 'ml-team')}/llama"
    assert admin.get(item).json()["metadata"]["uid"] == meta["uid"]

    listed = admin.get(collection("modeldeployments")).json()
    assert listed["kind"] == "ModelDeploymentList" and [i["metadata"]["name"] for i in listed["items"]] == ["llama"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])
    assert admin.get(collection("modeldeployments", "other")).json()["items"] == []
    assert len(admin.get(collection("modeldeployments"), params={"labelSelector": "app=llama"}).json()["items"]) == 1
    assert admin.get(collection("modeldeployments"), params={"labelSelector": "app!=llama"}).json()["items"] == []

    changed = created.json()
    changed["spec"]["replicas"] = 4
    replaced = admin.put(item, json=changed)
    assert replaced.status_code == 200 and replaced.json()["spec"]["replicas"] == 4
    assert replaced.json()["metadata"]["generation"] == 2

    deleted = admin.delete(item)
    assert deleted.status_code == 200 and deleted.json()["metadata"]["name"] == "llama"
    assert_status(admin.get(item), 404, "NotFound")


def test_cluster_scoped_objects(admin: httpx.Client) -> None:
    assert admin.post(collection("inferenceclusters"), json=cluster(region="eu")).status_code == 201
    assert admin.get(f"{collection('inferenceclusters')}/local").json()["metadata"]["labels"] == {"region": "eu"}
    assert_status(admin.get(f"{APIS}/namespaces/ml-team/inferenceclusters"), 400, "BadRequest")
    body = cluster("other")
    body["metadata"]["namespace"] = "ml-team"
    refused = assert_status(admin.post(collection("inferenceclusters"), json=body), 422, "Invalid")
    assert refused["details"]["causes"][0]["field"] == "metadata.namespace"


def test_modelplane_group_and_labels_are_accepted(admin: httpx.Client) -> None:
    doc = deployment()
    doc["apiVersion"] = "modelplane.ai/v1alpha1"
    doc["metadata"]["labels"] = {"modelplane.ai/team": "ml"}
    created = admin.post(collection("modeldeployments", "ml-team"), json=doc)
    assert created.status_code == 201, created.text
    assert created.json()["apiVersion"] == "laneway.dev/v1alpha1"
    assert created.json()["metadata"]["labels"] == {"laneway.dev/team": "ml"}


def test_path_namespace_fills_or_must_match(admin: httpx.Client) -> None:
    doc = deployment()
    del doc["metadata"]["namespace"]
    created = admin.post(collection("modeldeployments", "ml-team"), json=doc)
    assert created.status_code == 201 and created.json()["metadata"]["namespace"] == "ml-team"
    mismatch = assert_status(admin.post(collection("modeldeployments", "research"), json=deployment("b")), 400, "BadRequest")
    assert mismatch["details"]["causes"][0]["field"] == "metadata.namespace"
    assert_status(admin.post(collection("modeldeployments"), json=deployment("c")), 405, "MethodNotAllowed")
    renamed = deployment("other-name")
    assert_status(admin.put(f"{collection('modeldeployments', 'ml-team')}/llama", json=renamed), 400, "BadRequest")


def test_client_mistakes_are_4xx_statuses(admin: httpx.Client) -> None:
    url = collection("modeldeployments", "ml-team")
    assert_status(admin.post(url, content=b"{not json", headers={"Content-Type": "application/json"}), 400, "BadRequest")
    assert_status(admin.post(url, json=[1, 2]), 400, "BadRequest")
    assert_status(admin.post(url, content=b"", headers={"Content-Type": "application/json"}), 400, "BadRequest")
    assert_status(admin.post(url, content=b"x", headers={"Content-Type": "text/csv"}), 415, "UnsupportedMediaType")
    assert_status(admin.post(collection("modelservices", "ml-team"), json=deployment()), 400, "BadRequest")
    assert_status(admin.get(f"{APIS}/widgets"), 404, "NotFound")
    assert_status(admin.get("/nowhere"), 404, "NotFound")
    assert_status(admin.get(url, params={"labelSelector": "a in ()"}), 400, "BadRequest")
    assert_status(admin.get(url, params={"fieldSelector": "spec.replicas=1"}), 400, "BadRequest")
    deep = b'{"a":' * 50_000 + b"1" + b"}" * 50_000  # past Python's recursion limit
    assert_status(admin.post(url, content=deep, headers={"Content-Type": "application/json"}), 400, "BadRequest")
    assert_status(admin.post(url, content=b"[" * 200 + b"]" * 200, headers={"Content-Type": "application/yaml"}), 400, "BadRequest")

    bad = deployment()
    bad["spec"]["replicas"] = -1
    bad["spec"]["template"]["spec"]["engines"][0]["members"][0]["template"]["spec"]["containers"][0]["name"] = "sidecar"
    bad["spec"]["surprise"] = True
    body = assert_status(admin.post(url, json=bad), 422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert "spec.replicas" in fields and "spec.surprise" in fields
    assert any(f.startswith("spec.template.spec.engines[0]") for f in fields)
    assert all(c["message"] for c in body["details"]["causes"])


def test_yaml_bodies_are_accepted(admin: httpx.Client) -> None:
    text = (
        "apiVersion: laneway.dev/v1alpha1\nkind: InferenceCluster\nmetadata:\n  name: yaml-one\n"
        "spec:\n  cluster:\n    source: Local\n    local: {}\n"
    )
    created = admin.post(collection("inferenceclusters"), content=text, headers={"Content-Type": "application/yaml"})
    assert created.status_code == 201, created.text


def test_conflicts(admin: httpx.Client) -> None:
    url = collection("modeldeployments", "ml-team")
    first = admin.post(url, json=deployment()).json()
    assert_status(admin.post(url, json=deployment()), 409, "AlreadyExists")
    admin.patch(f"{url}/llama", json={"spec": {"replicas": 2}}, headers=MERGE)
    stale = dict(first)
    stale["spec"] = {**first["spec"], "replicas": 9}
    assert_status(admin.put(f"{url}/llama", json=stale), 409, "Conflict")
    pinned = {"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}, "spec": {"replicas": 5}}
    assert_status(admin.patch(f"{url}/llama", json=pinned, headers=MERGE), 409, "Conflict")
    assert_status(
        admin.request("DELETE", f"{url}/llama", json={"preconditions": {"resourceVersion": first["metadata"]["resourceVersion"]}}),
        409,
        "Conflict",
    )


def test_merge_patch(admin: httpx.Client) -> None:
    url = f"{collection('modeldeployments', 'ml-team')}/llama"
    admin.post(collection("modeldeployments", "ml-team"), json=deployment(app="llama", tier="gold"))
    patched = admin.patch(url, json={"metadata": {"labels": {"tier": None, "team": "ml"}}, "spec": {"replicas": 3}}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["labels"] == {"app": "llama", "team": "ml"}
    assert patched.json()["spec"]["replicas"] == 3
    assert_status(admin.patch(url, json={"spec": {"replicas": 1}}), 415, "UnsupportedMediaType")
    invalid = assert_status(admin.patch(url, json={"spec": {"replicas": "many"}}, headers=MERGE), 422, "Invalid")
    assert invalid["details"]["causes"][0]["field"] == "spec.replicas"
    assert_status(admin.patch(url, json=[{"op": "replace"}], headers=MERGE), 400, "BadRequest")
    assert admin.get(url).json()["spec"]["replicas"] == 3  # nothing half-applied


def test_scale_subresource(admin: httpx.Client) -> None:
    admin.post(collection("modeldeployments", "ml-team"), json=deployment(replicas=1))
    url = f"{collection('modeldeployments', 'ml-team')}/llama/scale"
    scale = admin.get(url).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1 and scale["status"]["replicas"] == 0
    put = admin.put(url, json={"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 5}})
    assert put.status_code == 200 and put.json()["spec"]["replicas"] == 5
    patched = admin.patch(url, json={"spec": {"replicas": 0}}, headers=MERGE)
    assert patched.status_code == 200 and patched.json()["spec"]["replicas"] == 0
    assert admin.get(url[: -len("/scale")]).json()["spec"]["replicas"] == 0
    body = assert_status(admin.put(url, json={"spec": {"replicas": -2}}), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.replicas"
    assert_status(admin.get(f"{collection('modelservices', 'ml-team')}/x/scale"), 404, "NotFound")
    assert_status(admin.get(f"{collection('modeldeployments', 'ml-team')}/missing/scale"), 404, "NotFound")


def test_status_subresource(admin: httpx.Client) -> None:
    url = f"{collection('modeldeployments', 'ml-team')}/llama"
    created = admin.post(collection("modeldeployments", "ml-team"), json={**deployment(), "status": {"replicas": {"total": 9}}})
    assert created.json()["status"]["replicas"]["total"] == 0  # a client does not claim a status on create
    patched = admin.patch(f"{url}/status", json={"status": {"replicas": {"total": 2, "ready": 1}}}, headers=MERGE)
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"]["replicas"] == {"total": 2, "ready": 1}
    assert patched.json()["metadata"]["generation"] == 1
    assert admin.get(f"{url}/scale").json()["status"]["replicas"] == 2
    doc = admin.get(url).json()
    doc["status"]["replicas"]["ready"] = 2
    doc["spec"]["replicas"] = 7  # ignored: /status writes only the status
    put = admin.put(f"{url}/status", json=doc).json()
    assert put["status"]["replicas"]["ready"] == 2 and put["spec"]["replicas"] == 1


def test_finalizers_delay_deletion(admin: httpx.Client) -> None:
    doc = deployment()
    doc["metadata"]["finalizers"] = ["laneway.dev/test"]
    admin.post(collection("modeldeployments", "ml-team"), json=doc)
    url = f"{collection('modeldeployments', 'ml-team')}/llama"
    marked = admin.delete(url).json()
    assert marked["metadata"]["deletionTimestamp"]
    assert admin.get(url).status_code == 200
    admin.patch(url, json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert admin.get(url).status_code == 404


def test_namespaces_discovery_and_public_endpoints(api, admin: httpx.Client) -> None:
    assert admin.get("/api/v1/namespaces").json()["items"] == []
    admin.post(collection("modeldeployments", "ml-team"), json=deployment())
    names = [n["metadata"]["name"] for n in admin.get("/api/v1/namespaces").json()["items"]]
    assert names == ["ml-team"]
    assert admin.get("/api/v1/namespaces/ml-team").status_code == 200
    assert_status(admin.get("/api/v1/namespaces/empty"), 404, "NotFound")
    resources = {r["name"]: r for r in admin.get(APIS).json()["resources"]}
    assert resources["modeldeployments"]["shortNames"] == ["md"] and "modeldeployments/scale" in resources
    assert "secrets" in {r["name"] for r in admin.get("/api/v1").json()["resources"]}
    with api.client() as anonymous:
        assert anonymous.get("/healthz").text == "ok"
        assert anonymous.get("/version").json()["gitVersion"].startswith("v")
        assert "paths" in anonymous.get("/openapi/v3").json()
