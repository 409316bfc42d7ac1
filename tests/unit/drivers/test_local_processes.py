"""The pure half of the local driver: processes of a replica, env injection, $(VAR) expansion."""

from __future__ import annotations

import json
import sys

from laneway.api.kinds.deployment import ModelReplica
from laneway.drivers.local.processes import expand, replica_processes, resolve_command
from laneway.placement.engines import AllowedEngine, EnginePolicy

# These tests are about ports, env and expansion, not about which engines a cluster allows: a
# policy that runs any command (tests/unit/placement/test_placement_engines.py covers the rest).
ANY = EnginePolicy((AllowedEngine("any", "*", (), allow_command=True),))


def _replica(engines: list[dict]) -> ModelReplica:
    return ModelReplica.model_validate(
        {
            "metadata": {"name": "m-0", "namespace": "ml", "uid": "u1"},
            "spec": {"clusterName": "local", "engines": engines},
        }
    )


def _member(role: str, *, command=None, args=None, env=None, nodes=None, devices=True) -> dict:
    m: dict = {
        "role": role,
        "template": {"spec": {"containers": [{"name": "engine", "image": "x", "command": command or ["serve"], "args": args or [], "env": env or []}]}},
    }
    if devices:
        m["nodeSelector"] = {"devices": [{"name": "gpu"}]}
    if nodes:
        m["worker"] = {"nodes": nodes}
    return m


def test_expand_follows_kubernetes_rules() -> None:
    env = {"PORT": "8000", "NAME": "x"}
    assert expand("--port=$(PORT)", env) == "--port=8000"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert expand("$$(PORT) escapes", env) == "$(PORT) escapes"
    assert expand("$(PORT)$(NAME)", env) == "8000x"


def test_laneway_resolves_to_the_running_installation() -> None:
    assert resolve_command(["laneway", "version"]) == [sys.executable, "-m", "laneway.cli.main", "version"]


def test_laneway_engine_runs_the_engine_module_without_the_whole_cli() -> None:
    assert resolve_command(["laneway", "engine", "sim", "--port", "9"]) == [
        sys.executable, "-m", "laneway.cli.engine", "sim", "--port", "9"]


def test_standalone_copies_get_their_own_ports_and_env() -> None:
    replica = _replica(
        [{"name": "main", "copies": 2, "members": [_member("Standalone", args=["--port", "$(LANEWAY_PORT)"], env=[{"name": "A", "value": "p$(LANEWAY_PORT)"}])]}]
    )
    ports = iter([9001, 9002])
    specs = replica_processes(replica, allocate_port=lambda pid: next(ports), policy=ANY)
    assert [s.id for s in specs] == ["main-0-standalone-0", "main-1-standalone-0"]
    assert [s.argv[-1] for s in specs] == ["9001", "9002"]
    env = dict(specs[0].env)
    assert env["A"] == "p9001"
    assert env["LANEWAY_PORT"] == env["MODELPLANE_PORT"] == "9001"
    assert env["LANEWAY_RANK"] == "0"
    assert all(s.serving for s in specs)


def test_a_container_cannot_override_laneway_variables() -> None:
    env = [{"name": "LANEWAY_REPLICA", "value": "someone-else"}, {"name": "LANEWAY_PORT", "value": "22"},
           {"name": "MINE", "value": "$(LANEWAY_PORT)"}]
    replica = _replica([{"name": "main", "members": [_member("Standalone", env=env)]}])
    (spec,) = replica_processes(replica, allocate_port=lambda pid: 9001, policy=ANY)
    assert dict(spec.env)["LANEWAY_REPLICA"] == "m-0" and dict(spec.env)["LANEWAY_PORT"] == "9001"
    assert dict(spec.env)["MINE"] == "9001"


def test_leader_and_workers_share_the_leader_address() -> None:
    replica = _replica(
        [{"name": "big", "members": [_member("Leader"), _member("Worker", nodes=2, devices=False)]}]
    )
    ports = iter([7000, 7001, 7002])
    specs = replica_processes(replica, allocate_port=lambda pid: next(ports), policy=ANY)
    assert [(s.role, s.rank, s.serving) for s in specs] == [("Leader", 0, True), ("Worker", 1, False), ("Worker", 2, False)]
    for s in specs:
        env = dict(s.env)
        assert env["LANEWAY_LEADER_ADDRESS"] == env["MODELPLANE_LEADER_ADDRESS"] == "127.0.0.1:7000"
    assert dict(specs[2].env)["MODELPLANE_RANK"] == "2"


def test_cache_path_is_injected_when_mounted() -> None:
    replica = _replica([{"name": "main", "members": [_member("Standalone", args=["--model", "$(LANEWAY_MODEL_CACHE)/w.gguf"])]}])
    (spec,) = replica_processes(replica, allocate_port=lambda pid: 1, cache_path="/data/cache/m", policy=ANY)
    assert spec.argv[-1] == "/data/cache/m/w.gguf"
    assert dict(spec.env)["MODELPLANE_MODEL_CACHE"] == "/data/cache/m"


def test_served_models_reads_openai_model_lists() -> None:
    from laneway.drivers.local.supervisor import served_models

    assert served_models(b'{"object": "list", "data": [{"id": "sim-chat"}]}') == ("sim-chat",)
    assert served_models(b'{"data": [{"id": "a"}, {"id": "b"}]}') == ("a", "b")
    assert served_models(b"not json") == ()
    assert served_models(b'{"data": "x"}') == ()
    flood = json.dumps({"data": [{"id": f"m{i}"} for i in range(1000)] + [{"id": "x" * 10_000}, {"id": "a\x1b[2J"}]})
    assert served_models(flood.encode()) == tuple(f"m{i}" for i in range(64)), "an engine's answer is stored: bounded"


def test_the_driver_never_hands_out_a_port_one_of_its_processes_holds(monkeypatch, tmp_path) -> None:
    from laneway.drivers.local import driver as driver_module

    offered = iter([9001, 9001, 9002])  # the kernel may offer a port again before its engine binds it
    monkeypatch.setattr(driver_module, "free_port", lambda: next(offered))
    local = driver_module.LocalDriver(logs_dir=tmp_path)
    local._ports["ml/a/u1"] = {"main-0-standalone-0": local._new_port()}
    assert local._new_port() == 9002
