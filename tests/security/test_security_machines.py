"""Machines joining a Machines cluster (issue 17), attacked: a join token stolen after its use,
an expired one, a machine credential reaching for another machine's assignments, any Secret or
any other door of the API, an agent claiming a cluster it was not joined to, a machine
pointing the gateway elsewhere, and team tokens trying the platform's machine doors. Each
test checks that the side effect did not happen, not only the status code.

Against the real API server over HTTP (in-process, memory store)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from security_harness import TEAM_NAMESPACE
from server_harness import RunningApi

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster, MachineAssignment
from laneway.api.kinds.secret import Secret
from laneway.api.meta import SYSTEM_NAMESPACE, ObjectKey
from laneway.drivers.local.discovery import CpuInfo, local_class, read_gpus
from laneway.drivers.machines.book import edit_machines
from laneway.drivers.machines.credentials import mint_join_token
from laneway.server.auth import utc_now
from laneway.testing.nvml import RecordedNvml

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nvml-h200.json"
GROUP = "/apis/laneway.dev/v1alpha1"
JOIN = "/agent/v1/join"
CPU = CpuInfo(model="Test CPU", architecture="x86_64", cores=2, memory_bytes=4 * 1024**3)


def _h200_devices() -> dict[str, Any]:
    return local_class(gpus=read_gpus(RecordedNvml(json.loads(FIXTURE.read_text()))), cpu=CPU).spec.wire()


def _cluster(name: str) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": name, "labels": {"laneway.dev/source": "machines"}},
        "spec": {"cluster": {"source": "Machines"}, "nodePools": [{"name": "h200", "className": "rack-h200", "accounting": "Device"}]},
    })


@pytest.fixture
def fleet(api: RunningApi) -> RunningApi:
    api.store.create(InferenceClass.model_validate({"metadata": {"name": "rack-h200"}, "spec": {"devices": [{
        "name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 1,
        "attributes": {"productName": {"string": "NVIDIA H200"}}}]}}))
    api.store.create(_cluster("rack"))
    api.store.create(_cluster("other"))
    api.store.create(Secret.model_validate({"metadata": {"name": "provider-key", "namespace": SYSTEM_NAMESPACE},
                                            "stringData": {"key": "sk-canary-machines"}}))
    return api


def _join_token(api: RunningApi, cluster: str = "rack") -> str:
    with api.client(api.token("platform")) as platform:
        answer = platform.post(f"{GROUP}/inferenceclusters/{cluster}/jointokens", json={"ttl": "10m"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def _join(api: RunningApi, token: str, machine: str, **extra: Any) -> httpx.Response:
    with api.client(token) as agent:
        return agent.post(JOIN, json={"machine": machine, "address": "127.0.0.1", "devices": _h200_devices(), **extra})


def _machines(api: RunningApi, cluster: str = "rack") -> list[str]:
    return [m.name for m in api.store.get(InferenceCluster, ObjectKey("", cluster)).status.machines]


def test_a_join_token_works_once_and_a_copy_used_after_gets_nothing(fleet: RunningApi) -> None:
    token = _join_token(fleet)
    first = _join(fleet, token, "gpu-a")
    assert first.status_code == 201, first.text
    stolen = _join(fleet, token, "evil")
    assert stolen.status_code == 401 and "revoked" in stolen.json()["message"]
    assert _machines(fleet) == ["gpu-a"], "the stolen copy joined no machine"
    assert [r.role for r in fleet.store.list_tokens()].count("machine") == 1, "and minted no credential"


def test_an_expired_join_token_is_refused(fleet: RunningApi) -> None:
    token, _ = mint_join_token(fleet.store, "rack", ttl=timedelta(seconds=1), now=utc_now() - timedelta(minutes=5))
    answer = _join(fleet, token, "late")
    assert answer.status_code == 401 and "expired" in answer.json()["message"]
    assert _machines(fleet) == []


def test_a_refused_join_leaves_the_token_usable_and_joins_nothing(fleet: RunningApi) -> None:
    token = _join_token(fleet)
    misfit = _join(fleet, token, "gpu-a", pool="cpu")
    assert misfit.status_code == 422 and "no node pool 'cpu'" in misfit.json()["message"]
    assert _machines(fleet) == []
    assert _join(fleet, token, "gpu-a").status_code == 201


def test_an_agent_cannot_claim_a_cluster_it_was_not_joined_to(fleet: RunningApi) -> None:
    token = _join_token(fleet, "rack")
    claimed = _join(fleet, token, "gpu-a", cluster="other")
    assert claimed.status_code == 403 and "admits to cluster 'rack'" in claimed.json()["message"]
    assert _machines(fleet, "other") == [] and _machines(fleet, "rack") == []
    credential = _join(fleet, token, "gpu-a").json()["credential"]
    with fleet.client(credential) as agent:
        beat = agent.post("/agent/v1/clusters/other/machines/gpu-a/heartbeat", json={"reports": []})
        assert beat.status_code == 403 and "cluster 'rack', not 'other'" in beat.json()["message"]
        assert agent.get("/agent/v1/clusters/other/machines/gpu-a/assignments").status_code == 403
    assert _machines(fleet, "other") == []
    assert fleet.store.get_lease("machine/other/gpu-a") is None, "no heartbeat was recorded for the other cluster"


def _two_machines_with_work(fleet: RunningApi) -> tuple[str, str]:
    a = _join(fleet, _join_token(fleet), "gpu-a").json()["credential"]
    b = _join(fleet, _join_token(fleet), "gpu-b").json()["credential"]
    replica = ModelReplica.model_validate({
        "metadata": {"name": "secret-model-0", "namespace": "victims"},
        "spec": {"clusterName": "rack", "engines": [{"name": "sim", "members": [{
            "nodePoolName": "h200", "nodeSelector": {"devices": [{"name": "gpu", "selectors": [{"cel": "true"}]}]},
            "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/engine-sim",
                                                  "env": [{"name": "PROMPT", "value": "victim's system prompt"}]}]}}}]}]},
    })
    stored = fleet.store.create(replica)

    def give_b(_c: InferenceCluster, machines: list[Any]) -> list[Any]:
        for m in machines:
            if m.name == "gpu-b":
                m.assignments = [MachineAssignment(namespace="victims", name=stored.name, uid=stored.metadata.uid or "")]
        return machines

    edit_machines(fleet.store, "rack", give_b)
    return a, b


def test_a_machine_credential_reads_only_its_own_assignments(fleet: RunningApi) -> None:
    a, b = _two_machines_with_work(fleet)
    with fleet.client(a) as agent:
        theirs = agent.get("/agent/v1/clusters/rack/machines/gpu-b/assignments")
        assert theirs.status_code == 403 and "belongs to machine 'gpu-a'" in theirs.json()["message"]
        assert "victim's system prompt" not in theirs.text
        mine = agent.get("/agent/v1/clusters/rack/machines/gpu-a/assignments")
        assert mine.status_code == 200 and mine.json()["replicas"] == []
    with fleet.client(b) as owner:
        orders = owner.get("/agent/v1/clusters/rack/machines/gpu-b/assignments").json()["replicas"]
        assert [r["replica"]["metadata"]["name"] for r in orders] == ["secret-model-0"]


def test_a_machine_cannot_write_another_machines_status_or_report_what_it_does_not_run(fleet: RunningApi) -> None:
    a, _b = _two_machines_with_work(fleet)
    uid = fleet.store.get(ModelReplica, ObjectKey("victims", "secret-model-0")).metadata.uid
    forged = {"reports": [{"namespace": "victims", "name": "secret-model-0", "uid": uid, "ready": True,
                           "addresses": [{"engine": "sim", "port": 8080, "ready": True}]}]}
    with fleet.client(a) as agent:
        assert agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json=forged).status_code == 403
        own = agent.post("/agent/v1/clusters/rack/machines/gpu-a/heartbeat", json=forged)
        assert own.status_code == 200
    machines = {m.name: m for m in fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status.machines}
    assert machines["gpu-b"].reports == [], "gpu-a wrote nothing into gpu-b's status"
    assert machines["gpu-a"].reports == [], "a report of a replica not assigned to gpu-a is dropped"


def test_a_machine_reports_ports_and_the_url_is_its_own_address(fleet: RunningApi) -> None:
    _a, b = _two_machines_with_work(fleet)
    uid = fleet.store.get(ModelReplica, ObjectKey("victims", "secret-model-0")).metadata.uid
    report = {"reports": [{"namespace": "victims", "name": "secret-model-0", "uid": uid, "ready": True,
                           "addresses": [{"engine": "sim", "port": 8080, "ready": True, "url": "http://169.254.169.254/"}]}]}
    with fleet.client(b) as agent:
        assert agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json=report).status_code == 422
        report["reports"][0]["addresses"][0].pop("url")
        assert agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json=report).status_code == 200
    machine = next(m for m in fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status.machines if m.name == "gpu-b")
    assert [a.url for r in machine.reports for a in r.addresses] == ["http://127.0.0.1:8080"]


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1"])
def test_a_join_token_cannot_point_the_fleet_at_a_metadata_or_unroutable_address(fleet: RunningApi, address: str) -> None:
    """The gateway and the quality probes call a machine at the address it joined with: a join
    token in the wrong hands must not make that the cloud's metadata service."""
    token = _join_token(fleet)
    with fleet.client(token) as agent:
        refused = agent.post(JOIN, json={"machine": "evil", "address": address, "devices": _h200_devices()})
    assert refused.status_code == 422 and "link-local, multicast, unspecified or reserved" in refused.text, refused.text
    assert _machines(fleet) == [], "no machine joined at that address"
    assert _join(fleet, token, "gpu-a").status_code == 201, "the refusal spent no token"


@pytest.mark.parametrize("engine", ["Evil Engine", "sim\x1b[2J", "a/../b", "victim-endpoint."])
def test_a_machine_reports_only_engine_names_a_deployment_could_have(fleet: RunningApi, engine: str) -> None:
    """An engine's name becomes part of an endpoint's name and a label value: a report naming
    anything but a DNS label is refused whole, and nothing of it is stored."""
    _a, b = _two_machines_with_work(fleet)
    uid = fleet.store.get(ModelReplica, ObjectKey("victims", "secret-model-0")).metadata.uid
    for report in (
        {"namespace": "victims", "name": "secret-model-0", "uid": uid, "ready": True,
         "addresses": [{"engine": engine, "port": 8080, "ready": True}]},
        {"namespace": "victims", "name": "secret-model-0", "uid": uid, "ready": True,
         "members": [{"id": "m-0", "engine": engine, "phase": "Ready"}]},
    ):
        with fleet.client(b) as agent:
            answer = agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json={"reports": [report]})
        assert answer.status_code == 422 and "engine name" in answer.text, answer.text
    machine = next(m for m in fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status.machines if m.name == "gpu-b")
    assert machine.reports == []


def test_a_machine_cannot_send_escape_sequences_to_operators_terminals(fleet: RunningApi) -> None:
    """A report's reason and message become the replica's status message, which `laneway get`
    prints: the machine's control characters are replaced before anything is stored."""
    _a, b = _two_machines_with_work(fleet)
    uid = fleet.store.get(ModelReplica, ObjectKey("victims", "secret-model-0")).metadata.uid
    escape = "\x1b]0;owned\x07\x1b[2J\x9b31m"
    report = {"reports": [{"namespace": "victims", "name": "secret-model-0", "uid": uid, "ready": False,
                           "reason": "Crash" + escape, "message": "engine said\n" + escape,
                           "members": [{"id": "m" + escape, "engine": "sim", "phase": "Starting"}]}],
              "caches": []}
    with fleet.client(b) as agent:
        assert agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json=report).status_code == 200
    machine = next(m for m in fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status.machines if m.name == "gpu-b")
    stored = machine.reports[0]
    for text in (stored.reason, stored.message, stored.members[0].id):
        assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
    assert stored.message.startswith("engine said\n"), "newlines are kept"


@pytest.mark.parametrize("path", [
    f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/secrets",
    f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/secrets/provider-key",
    f"{GROUP}/modelreplicas",
    f"{GROUP}/inferenceclusters/rack",
    f"{GROUP}/tokens",
])
def test_a_machine_credential_opens_no_door_of_the_api(fleet: RunningApi, path: str) -> None:
    a, _b = _two_machines_with_work(fleet)
    with fleet.client(a) as agent:
        answer = agent.get(path)
        assert answer.status_code == 403 and "opens no door of the API" in answer.json()["message"]
        assert "sk-canary-machines" not in answer.text and "victim's system prompt" not in answer.text
        written = agent.post(f"{GROUP}/inferenceclusters/rack/jointokens", json={})
        assert written.status_code == 403
    assert sum(1 for r in fleet.store.list_tokens() if r.role == "join" and not r.revoked) == 0


def test_a_join_token_is_no_api_token_either(fleet: RunningApi) -> None:
    token = _join_token(fleet)
    with fleet.client(token) as holder:
        assert holder.get(f"/api/v1/namespaces/{SYSTEM_NAMESPACE}/secrets").status_code == 403
        assert holder.get("/agent/v1/clusters/rack/machines/gpu-a/assignments").status_code == 403
    assert _join(fleet, token, "gpu-a").status_code == 201, "and those refusals did not spend it"


def test_team_tokens_cannot_mint_join_tokens_join_or_remove_machines(fleet: RunningApi) -> None:
    _join(fleet, _join_token(fleet), "gpu-a")
    team_token = fleet.token("team", TEAM_NAMESPACE)
    with fleet.client(team_token) as team:
        minted = team.post(f"{GROUP}/inferenceclusters/rack/jointokens", json={})
        assert minted.status_code == 403 and "platform" in minted.json()["message"]
        assert team.delete(f"{GROUP}/inferenceclusters/rack/machines/gpu-a").status_code == 403
        assert team.post(JOIN, json={"machine": "evil", "address": "127.0.0.1", "devices": _h200_devices()}).status_code == 403
    assert _machines(fleet) == ["gpu-a"]
    assert not any(r.role == "join" and not r.revoked for r in fleet.store.list_tokens())


def test_a_removed_machine_is_cut_off(fleet: RunningApi) -> None:
    credential = _join(fleet, _join_token(fleet), "gpu-a").json()["credential"]
    with fleet.client(fleet.token("platform")) as platform:
        removed = platform.delete(f"{GROUP}/inferenceclusters/rack/machines/gpu-a")
        assert removed.status_code == 200 and removed.json()["credentialsRevoked"] == 1
    with fleet.client(credential) as agent:
        beat = agent.post("/agent/v1/clusters/rack/machines/gpu-a/heartbeat", json={"reports": []})
        assert beat.status_code == 401 and "revoked" in beat.json()["message"]
    assert _machines(fleet) == []


def _assign(fleet: RunningApi, machine: str, count: int, copies: int) -> list[ModelReplica]:
    """`count` replicas of one engine with `copies` copies, all given to `machine`."""
    made = []
    for i in range(count):
        made.append(fleet.store.create(ModelReplica.model_validate({
            "metadata": {"name": f"bulk-{i}", "namespace": "victims"},
            "spec": {"clusterName": "rack", "engines": [{"name": "sim", "copies": copies, "members": [{
                "nodePoolName": "h200", "nodeSelector": {"devices": [{"name": "gpu", "selectors": [{"cel": "true"}]}]},
                "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/engine-sim"}]}}}]}]},
        })))

    def give(_c: InferenceCluster, machines: list[Any]) -> list[Any]:
        for m in machines:
            if m.name == machine:
                m.assignments = [*m.assignments, *(MachineAssignment(namespace="victims", name=r.name, uid=r.metadata.uid or "")
                                                   for r in made)]
        return machines

    edit_machines(fleet.store, "rack", give)
    return made


def _report(replica: ModelReplica, copies: int = 1, models: int = 1) -> dict[str, Any]:
    """The largest report an honest agent could send of `replica`: longest reason and message,
    every engine copy's address with `models` of the longest model names, every member."""
    return {"namespace": "victims", "name": replica.name, "uid": replica.metadata.uid, "ready": False,
            "reason": "R" * 64, "message": "m" * 2048,
            "addresses": [{"engine": "sim", "engineCopy": c, "port": 8080 + c, "ready": True,
                           "models": [f"{c}-{i}-" + "x" * 240 for i in range(models)]} for c in range(copies)],
            "members": [{"id": f"sim-{c}-standalone-0", "engine": "sim", "phase": "Running"} for c in range(copies)]}


def _status_bytes(fleet: RunningApi) -> int:
    return len(json.dumps(fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status.wire()).encode())


def _beat(credential: str, fleet: RunningApi, body: dict[str, Any]) -> httpx.Response:
    with fleet.client(credential) as agent:
        return agent.post("/agent/v1/clusters/rack/machines/gpu-b/heartbeat", json=body)


def _flood(uid: str, replica: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Heartbeats a compromised machine could send, each well inside the 4 MiB body limit."""
    one = replica
    return {
        "the same replica reported 256 times": {"reports": [one] * 256},
        "addresses of engine copies the replica does not have": {"reports": [
            {**one, "addresses": [{"engine": "sim", "engineCopy": c, "port": 9000, "models": ["m" * 253] * 16}
                                  for c in range(64)]}]},
        "one engine copy's address 64 times": {"reports": [
            {**one, "addresses": [{"engine": "sim", "engineCopy": 0, "port": 9000, "models": ["m" * 253] * 16}] * 64}]},
        "64 members of a one-process replica": {"reports": [
            {**one, "members": [{"id": f"m-{i}-" + "x" * 120, "engine": "sim", "phase": "Running"} for i in range(64)]}]},
        "an engine serving 64 long model names": {"reports": [
            {**one, "addresses": [{"engine": "sim", "port": 9000, "models": ["m" * 253] * 64}]}]},
        "a cache reported 256 times": {"reports": [one], "caches": [
            {"namespace": "victims", "name": "c", "uid": uid, "state": "Failed", "message": "x" * 2048}] * 256},
    }


@pytest.mark.parametrize("attack", list(_flood("", {})))
def test_a_machine_cannot_fill_the_cluster_status_with_its_reports(fleet: RunningApi, attack: str) -> None:
    """A compromised machine (its credential is all it needs) writing up to the API's body
    limit into the cluster's status on every beat: each shape is refused whole, naming what is
    too much, and what was stored before stays as it was."""
    _a, b = _two_machines_with_work(fleet)
    replica = fleet.store.get(ModelReplica, ObjectKey("victims", "secret-model-0"))
    honest = _report(replica)
    assert _beat(b, fleet, {"reports": [honest]}).status_code == 200
    before = fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status
    body = _flood(replica.metadata.uid or "", honest)[attack]
    assert len(json.dumps(body)) < 4 * 1024 * 1024, "inside the body limit: the API's own cap does not refuse it"
    answer = _beat(b, fleet, body)
    assert answer.status_code == 422, answer.text
    message = answer.json()["message"]
    assert any(w in message for w in ("reported twice", "does not have", "two addresses", "members", "at most 16")), message
    assert fleet.store.get(InferenceCluster, ObjectKey("", "rack")).status == before, "nothing of it was stored"
    assert _status_bytes(fleet) < 16 * 1024


def test_one_reports_bytes_are_capped(fleet: RunningApi) -> None:
    """Within every per-field limit, a replica of many engine copies each reporting sixteen of
    the longest model names: over the 16 KiB one report may keep, refused with 413."""
    _a, b = _two_machines_with_work(fleet)
    [wide] = _assign(fleet, "gpu-b", 1, copies=8)
    answer = _beat(b, fleet, {"reports": [_report(wide, copies=8, models=16)]})
    assert answer.status_code == 413, answer.text
    assert f"replica victims/{wide.name} would take" in answer.json()["message"]
    assert "over the 16384 one report may take" in answer.json()["message"]
    assert _status_bytes(fleet) < 16 * 1024, "nothing of it was stored"
    accepted = _beat(b, fleet, {"reports": [_report(wide, copies=8, models=1)]})
    assert accepted.status_code == 200, accepted.text


def test_all_of_a_machines_reports_are_capped_together(fleet: RunningApi) -> None:
    """Every report under its own cap, but twenty of them: over the 256 KiB one machine's
    reports may take together, refused with 413; the status keeps the last accepted beat."""
    _a, b = _two_machines_with_work(fleet)
    replicas = _assign(fleet, "gpu-b", 20, copies=3)
    assert _beat(b, fleet, {"reports": [_report(r, copies=3) for r in replicas]}).status_code == 200
    kept = _status_bytes(fleet)
    answer = _beat(b, fleet, {"reports": [_report(r, copies=3, models=16) for r in replicas]})
    assert answer.status_code == 413, answer.text
    assert "machine gpu-b's reports would take" in answer.json()["message"]
    assert "over the 262144 one machine's reports may take together" in answer.json()["message"]
    assert _status_bytes(fleet) == kept
    assert kept < 256 * 1024
