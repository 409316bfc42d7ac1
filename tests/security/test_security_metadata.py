"""Item 10 of issue 11, metadata: a team merge-patch `{"metadata": null}` stripped laneway's
finalizers (a ModelCache's staged files stayed on disk after it was deleted) and wiped the
rollout history annotations; 100,000 labels and a 3 MB annotation were accepted.

Against a real `laneway up` with its Local cluster, as the team lane: `{"metadata": null}` is
a 422; dropping laneway's finalizer or annotations keeps them; forging them is a 422; and the
side effects are checked: the finalizer is still there, the cache's files are removed when it
is deleted, the history annotations are intact.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Up
from security_harness import TEAM_NAMESPACE, admin_token_of, run_up, up_client

GROUP = "/apis/laneway.dev/v1alpha1"
CACHES = f"{GROUP}/namespaces/{TEAM_NAMESPACE}/modelcaches"
DEPLOYMENTS = f"{GROUP}/namespaces/{TEAM_NAMESPACE}/modeldeployments"
MERGE = {"Content-Type": "application/merge-patch+json"}
CACHE_FINALIZER = "laneway.dev/cache-files"
REVISION = "laneway.dev/revision"
HISTORY = "laneway.dev/revision-history"
WAIT = 60.0


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`laneway up` with its Local cluster, so a Local ModelCache really stages files."""
    yield from run_up(tmp_path_factory.mktemp("up") / "data", local_cluster=True)


@pytest.fixture(scope="module")
def team(up: Up) -> Iterator[httpx.Client]:
    with up_client(up, admin_token_of(up)) as admin:
        made = admin.post(f"{GROUP}/tokens", json={"role": "team", "namespaces": [TEAM_NAMESPACE]})
        assert made.status_code == 201, made.text
    with up_client(up, made.json()["token"]) as client:
        yield client


def _until(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {WAIT:.0f}s waiting for {what}")


def _ready_cache(team: httpx.Client, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        cache = team.get(f"{CACHES}/{name}").json()
        states = [c.get("state") for c in cache.get("status", {}).get("clusters", [])]
        return cache if states and all(s == "Ready" for s in states) else None

    return dict(_until(f"cache {name} Ready", ready))


def test_attack10_a_team_cannot_strip_the_cache_finalizer_and_its_files_go_on_delete(
    up: Up, team: httpx.Client, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.gguf").write_bytes(b"\0" * 4096)
    # Local caches read only under roots the platform allowed on the cluster: it allows this one.
    with up_client(up, admin_token_of(up)) as admin:
        opened = admin.patch(f"{GROUP}/inferenceclusters/local", headers=MERGE,
                             content=json.dumps({"spec": {"cluster": {"local": {"cacheRoots": [str(tmp_path)]}}}}))
        assert opened.status_code == 200, opened.text
    cache = {
        "apiVersion": "laneway.dev/v1alpha1", "kind": "ModelCache", "metadata": {"name": "weights"},
        "spec": {"source": "Local", "local": {"path": str(weights)},
                 "clusterSelector": {"matchLabels": {"laneway.dev/source": "local"}},
                 "stageAhead": True},  # staged with no replica using it: the files must exist to be removed
    }
    created = team.post(CACHES, json=cache)
    assert created.status_code == 201, created.text
    stored = _ready_cache(team, "weights")
    assert CACHE_FINALIZER in stored["metadata"]["finalizers"]
    staged = list((up.data_dir / "cache").rglob("model.gguf"))
    assert staged, "the cache staged no files"

    nulled = team.patch(f"{CACHES}/weights", content=json.dumps({"metadata": None}), headers=MERGE)
    assert nulled.status_code == 422 and nulled.json()["details"]["causes"][0]["field"] == "metadata"
    dropped = team.patch(f"{CACHES}/weights", content=json.dumps({"metadata": {"finalizers": None}}), headers=MERGE)
    assert dropped.status_code == 200, dropped.text
    assert CACHE_FINALIZER in dropped.json()["metadata"]["finalizers"]
    replaced = team.put(f"{CACHES}/weights", json={**cache, "metadata": {"name": "weights", "finalizers": []}})
    assert replaced.status_code == 200 and CACHE_FINALIZER in replaced.json()["metadata"]["finalizers"]
    forged = team.patch(f"{CACHES}/weights", headers=MERGE,
                        content=json.dumps({"metadata": {"finalizers": [CACHE_FINALIZER, "laneway.dev/engines"]}}))
    assert forged.status_code == 422 and "laneway.dev/engines" in forged.json()["message"]
    assert CACHE_FINALIZER in team.get(f"{CACHES}/weights").json()["metadata"]["finalizers"]

    assert team.delete(f"{CACHES}/weights").status_code == 200
    _until("the cache to go", lambda: team.get(f"{CACHES}/weights").status_code == 404)
    assert [p for p in staged if p.exists()] == [], "the cache's staged files stayed on disk after delete"


def _deployment(name: str) -> dict[str, Any]:
    member = {
        "role": "Standalone",
        "nodeSelector": {"devices": [{"name": "gpu", "count": 1, "selectors": [{"cel": 'device.driver == "none.example.com"'}]}]},
        "template": {"spec": {"containers": [{"name": "engine", "image": "sim"}]}},
    }
    return {
        "apiVersion": "laneway.dev/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "template": {"spec": {"engines": [{"name": "main", "members": [member]}]}}},
    }


def test_attack10_a_team_cannot_wipe_or_forge_the_rollout_history(team: httpx.Client) -> None:
    body = _deployment("history")
    assert team.post(DEPLOYMENTS, json=body).status_code == 201
    _until("the first revision recorded",
           lambda: team.get(f"{DEPLOYMENTS}/history").json()["metadata"].get("annotations", {}).get(REVISION) == "1")
    changed = json.loads(json.dumps(body))
    changed["spec"]["template"]["spec"]["engines"][0]["members"][0]["template"]["spec"]["containers"][0]["args"] = ["--v2"]
    assert team.put(f"{DEPLOYMENTS}/history", json=changed).status_code == 200

    def recorded() -> dict[str, str] | None:
        annotations = team.get(f"{DEPLOYMENTS}/history").json()["metadata"].get("annotations", {})
        return annotations if annotations.get(REVISION) == "2" and HISTORY in annotations else None

    before = _until("two revisions recorded", recorded)
    nulled = team.patch(f"{DEPLOYMENTS}/history", content=json.dumps({"metadata": None}), headers=MERGE)
    assert nulled.status_code == 422
    wiped = team.patch(f"{DEPLOYMENTS}/history", content=json.dumps({"metadata": {"annotations": None}}), headers=MERGE)
    assert wiped.status_code == 200
    forged = team.patch(f"{DEPLOYMENTS}/history", headers=MERGE,
                        content=json.dumps({"metadata": {"annotations": {HISTORY: "[]", REVISION: "9"}}}))
    assert forged.status_code == 422
    fields = {c["field"] for c in forged.json()["details"]["causes"]}
    assert fields == {f"metadata.annotations[{HISTORY!r}]", f"metadata.annotations[{REVISION!r}]"}
    after = team.get(f"{DEPLOYMENTS}/history").json()["metadata"]["annotations"]
    assert (after[REVISION], after[HISTORY]) == (before[REVISION], before[HISTORY])


def test_attack10_label_and_annotation_limits(team: httpx.Client) -> None:
    many = _deployment("many-labels")
    many["metadata"]["labels"] = {f"l{i}": "x" for i in range(100_000)}
    too_many = team.post(DEPLOYMENTS, json=many)
    assert too_many.status_code in (400, 422), too_many.text  # the node bound may refuse it first
    many["metadata"]["labels"] = {f"l{i}": "x" for i in range(101)}
    assert team.post(DEPLOYMENTS, json=many).status_code == 422
    big = _deployment("big-annotation")
    big["metadata"]["annotations"] = {"example.com/blob": "x" * (3 * 1024 * 1024)}
    answer = team.post(DEPLOYMENTS, json=big)
    assert answer.status_code == 422 and "256 KiB" in answer.json()["message"]
    long_value = _deployment("long-label")
    long_value["metadata"]["labels"] = {"team": "x" * 64}
    assert team.post(DEPLOYMENTS, json=long_value).status_code == 422
    for name in ("many-labels", "big-annotation", "long-label"):
        assert team.get(f"{DEPLOYMENTS}/{name}").status_code == 404


WRITTEN_BY = "laneway.dev/written-by"
SECRETS = f"/api/v1/namespaces/{TEAM_NAMESPACE}/secrets"


def test_attack5_a_team_cannot_forge_or_strip_which_lane_wrote_a_secret(up: Up, team: httpx.Client) -> None:
    forged = team.post(SECRETS, json={"apiVersion": "v1", "kind": "Secret",
                                      "metadata": {"name": "mine", "annotations": {WRITTEN_BY: "platform"}},
                                      "stringData": {"key": "x"}})
    assert forged.status_code == 422 and WRITTEN_BY in forged.json()["message"]
    with up_client(up, admin_token_of(up)) as admin:
        placed = admin.post(SECRETS, json={"apiVersion": "v1", "kind": "Secret",
                                           "metadata": {"name": "provider", "annotations": {WRITTEN_BY: "platform"}},
                                           "stringData": {"key": "sk-platform"}})
        assert placed.status_code == 201, placed.text
    stripped = team.put(f"{SECRETS}/provider", json={"apiVersion": "v1", "kind": "Secret",
                                                     "metadata": {"name": "provider"}, "stringData": {"key": "x"}})
    relabelled = team.patch(f"{SECRETS}/provider", headers=MERGE,
                            content=json.dumps({"metadata": {"annotations": {WRITTEN_BY: "team"}}}))
    assert stripped.status_code in (200, 403) and relabelled.status_code in (403, 422)
    with up_client(up, admin_token_of(up)) as admin:
        stored = admin.get(f"{SECRETS}/provider").json()
    assert stored["metadata"]["annotations"][WRITTEN_BY] == "platform"
