"""Which pool a joining machine enters and which machine runs a replica (pure functions,
with device sets discovered from the recorded H200 reading)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import (
    InferenceClass,
    InferenceCluster,
    MachineAddress,
    MachineAssignment,
    MachineReplicaReport,
    MachineStatus,
)
from laneway.drivers.local.discovery import CpuInfo, local_class, read_gpus
from laneway.drivers.machines.membership import (
    JoinRefused,
    choose_pool,
    devices_summary,
    leader_addresses,
    place,
    pods_of,
    pool_nodes,
    uncovered,
)
from laneway.placement.fleet import Fleet
from laneway.testing.nvml import RecordedNvml, with_devices

FIXTURE = Path(__file__).parents[2] / "fixtures" / "nvml-h200.json"
CPU = CpuInfo(model="Test CPU", architecture="x86_64", cores=4, memory_bytes=8 * 1024**3)


def _machine(gpus: int) -> InferenceClass:
    reading = with_devices(json.loads(FIXTURE.read_text()), gpus) if gpus else None
    return local_class(gpus=read_gpus(RecordedNvml(reading)) if reading else None, cpu=CPU)


def _class(name: str, devices: list[dict[str, object]]) -> InferenceClass:
    return InferenceClass.model_validate({"metadata": {"name": name}, "spec": {"devices": devices}})


H200 = _class("rack-h200", [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 1,
                             "attributes": {"productName": {"string": "NVIDIA H200"}}}])
H200X2 = _class("rack-h200x2", [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 2,
                                 "attributes": {"productName": {"string": "NVIDIA H200"}}}])
H100 = _class("rack-h100", [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 1,
                             "attributes": {"productName": {"string": "NVIDIA H100 80GB HBM3"}}}])
CPU_CLASS = _class("rack-cpu", [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 1}])
CLASSES = {c.name: c for c in (H200, H200X2, H100, CPU_CLASS)}


def _cluster(pools: list[tuple[str, str, str]], machines: list[MachineStatus] | None = None) -> InferenceCluster:
    cluster = InferenceCluster.model_validate({
        "metadata": {"name": "rack"},
        "spec": {"cluster": {"source": "Machines"},
                 "nodePools": [{"name": n, "className": c, "accounting": a} for n, c, a in pools]},
    })
    cluster.status.machines = machines or []
    return cluster


def test_discovered_h200s_cover_an_h200_class_but_not_an_h100_one() -> None:
    two = _machine(2)
    assert devices_summary(two) == "2 x NVIDIA H200"
    assert uncovered(H200, two) == "" and uncovered(H200X2, two) == ""
    assert "needs 2 x gpu; the machine has 1 x NVIDIA H200" in uncovered(H200X2, _machine(1))
    assert "productName" in uncovered(H100, two)
    assert "needs 1 gpu.nvidia.com device(s); the machine has 4 x Test CPU" in uncovered(H200, _machine(0))


def test_a_machine_without_a_pool_joins_the_first_pool_its_devices_cover() -> None:
    cluster = _cluster([("h100", "rack-h100", "Device"), ("h200", "rack-h200", "Device"), ("cpu", "rack-cpu", "Device")])
    assert choose_pool(cluster, CLASSES, _machine(2), None).name == "h200"  # type: ignore[union-attr]
    assert choose_pool(cluster, CLASSES, _machine(0), None).name == "cpu"  # type: ignore[union-attr]


def test_a_named_pool_must_exist_and_fit_and_the_refusal_says_what_to_change() -> None:
    cluster = _cluster([("h200", "rack-h200", "Device"), ("cpu", "rack-cpu", "Device")])
    missing = choose_pool(cluster, CLASSES, _machine(1), "h100")
    assert isinstance(missing, JoinRefused) and "no node pool 'h100'; its pools: h200, cpu" in missing.message
    misfit = choose_pool(cluster, CLASSES, _machine(0), "h200")
    assert isinstance(misfit, JoinRefused) and "cannot join pool 'h200'" in misfit.message
    none = choose_pool(_cluster([("h100", "rack-h100", "Device")]), CLASSES, _machine(1), None)
    assert isinstance(none, JoinRefused) and "name one with --pool" in none.message
    empty = choose_pool(_cluster([]), CLASSES, _machine(1), None)
    assert isinstance(empty, JoinRefused) and "declares no node pools" in empty.message


def _status(name: str, pool: str, *, ready: bool = True, devices: int = 2, runs: dict[str, int] | None = None) -> MachineStatus:
    return MachineStatus(name=name, pool=pool, ready=ready, device_count=devices,
                         assignments=[MachineAssignment(namespace="ml", name=u, uid=u, devices=n) for u, n in (runs or {}).items()])


def test_a_pool_publishes_its_ready_machines_and_the_scheduler_reads_them() -> None:
    cluster = _cluster([("h200", "rack-h200", "Device"), ("cpu", "rack-cpu", "Device")],
                       [_status("a", "h200"), _status("b", "h200", ready=False), _status("c", "cpu")])
    assert pool_nodes(cluster) == {"h200": 1, "cpu": 1}
    cluster.status.gpu_pools = []  # what the cluster controller has not published yet is no capacity
    fleet = Fleet.build([cluster], list(CLASSES.values()))
    assert [p.nodes for p in fleet.by_name["rack"].pools] == [0, 0]


def _member(role: str, pool: str, gpus: int, nodes: int | None = None) -> dict[str, object]:
    member: dict[str, object] = {
        "role": role, "nodePoolName": pool or None,
        "nodeSelector": {"devices": [{"name": "gpu", "selectors": [{"cel": "true"}]}]},
        "deviceRequests": [{"name": "gpu", "deviceClassName": "gpu.nvidia.com", "count": gpus}] if gpus else [],
        "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/engine-sim"}]}},
    }
    if nodes is not None:
        member["worker"] = {"nodes": nodes}
    return member


def _replica(uid: str, pool: str, gpus: int, *, workers: int = 0) -> ModelReplica:
    members = [_member("Leader", pool, gpus), _member("Worker", pool, gpus, workers)] if workers else [_member("Standalone", pool, gpus)]
    return ModelReplica.model_validate({
        "metadata": {"name": uid, "namespace": "ml", "uid": uid},
        "spec": {"clusterName": "rack", "engines": [{"name": "sim", "members": members}]},
    })


def _where(placement: object) -> dict[str, list[str]]:
    assert isinstance(placement, dict), placement
    return {machine: [p.id for p in pods] for machine, pods in placement.items()}


def test_a_replica_goes_to_the_ready_machine_of_its_pool_with_most_room() -> None:
    cluster = _cluster([("h200", "rack-h200", "Device")],
                       [_status("a", "h200", runs={"r1": 1}), _status("b", "h200"), _status("c", "h200", ready=False)])
    assert _where(place(_replica("r2", "h200", 1), cluster)) == {"b": ["sim-0-standalone-0"]}
    cluster.status.machines[1].assignments = [MachineAssignment(namespace="ml", name="x", uid="x", devices=2)]
    assert list(_where(place(_replica("r2", "h200", 1), cluster))) == ["a"]
    full = place(_replica("r2", "h200", 2), cluster)
    assert isinstance(full, JoinRefused) and "room for 2 more device(s)" in full.message


def test_node_accounting_gives_a_machine_to_one_replica_and_notready_machines_none() -> None:
    cluster = _cluster([("h200", "rack-h200", "Node")], [_status("a", "h200", runs={"r1": 1}), _status("b", "h200")])
    assert list(_where(place(_replica("r2", "h200", 1), cluster))) == ["b"]
    cluster.status.machines[1].ready = False
    assert isinstance(place(_replica("r2", "h200", 1), cluster), JoinRefused)
    cluster.status.machines[0].ready = False
    gone = place(_replica("r2", "h200", 1), cluster)
    assert isinstance(gone, JoinRefused) and "NotReady" in gone.message


def test_a_gang_gets_one_machine_per_pod_with_ranks_as_the_local_driver_numbers_them() -> None:
    cluster = _cluster([("h200", "rack-h200", "Node")], [_status("a", "h200"), _status("b", "h200"), _status("c", "h200")])
    gang = _replica("g", "h200", 1, workers=2)
    assert [(p.id, p.gang, p.leader) for p in pods_of(gang)] == [
        ("sim-0-leader-0", "sim-0", True), ("sim-0-worker-1", "sim-0", False), ("sim-0-worker-2", "sim-0", False)]
    assert _where(place(gang, cluster)) == {"a": ["sim-0-leader-0"], "b": ["sim-0-worker-1"], "c": ["sim-0-worker-2"]}
    cluster.status.machines[2].ready = False
    short = place(gang, cluster)
    assert isinstance(short, JoinRefused) and "a gang of 3 pods needs 3 Ready machines" in short.message


def test_a_gang_on_a_device_pool_shares_a_machine_only_when_it_runs_out_of_machines() -> None:
    cluster = _cluster([("h200", "rack-h200", "Device")], [_status("a", "h200", devices=2), _status("b", "h200", devices=1)])
    assert _where(place(_replica("g", "h200", 1, workers=2), cluster)) == {
        "a": ["sim-0-leader-0", "sim-0-worker-2"], "b": ["sim-0-worker-1"]}


def test_leader_addresses_come_from_the_leaders_machine_report() -> None:
    cluster = _cluster([("h200", "rack-h200", "Node")], [_status("a", "h200", runs={"g": 1}), _status("b", "h200", runs={"g": 1})])
    cluster.status.machines[0].reports = [MachineReplicaReport(namespace="ml", name="g", uid="g", ready=True, addresses=[
        MachineAddress(engine="sim", engine_copy=0, url="http://10.0.0.21:40123", ready=True)])]
    assert leader_addresses(cluster, "g") == {"sim-0": "10.0.0.21:40123"}
    assert leader_addresses(cluster, "other") == {}


@pytest.mark.parametrize("pool", ["cpu", ""])
def test_a_replica_of_a_pool_nobody_joined_has_no_machine(pool: str) -> None:
    cluster = _cluster([("h200", "rack-h200", "Device"), ("cpu", "rack-cpu", "Device")], [_status("a", "h200")])
    refused = place(_replica("r", pool, 0), cluster)
    assert isinstance(refused, JoinRefused) and "no machine has joined pool" in refused.message
