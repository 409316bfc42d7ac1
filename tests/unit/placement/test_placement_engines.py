"""Which engines a Local cluster runs (issue #11, attack 1): the pure matching and the scheduler's filter."""

from __future__ import annotations

from typing import Any

import pytest

from laneway.api.errors import InvalidObject
from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.manifest import parse_object
from laneway.api.meta import Condition
from laneway.placement import plan
from laneway.placement.engines import (
    DEFAULT_LOCAL_ENGINES,
    AllowedEngine,
    ContainerRequest,
    EnginePolicy,
    Launch,
    NotAllowed,
    choose_engine,
    engine_policy,
    loader_variable,
)

from .placement_builders import as_replicas

SIM = ("laneway", "engine", "sim")


def _request(image: str = "laneway/sim", command: tuple[str, ...] = SIM, args: tuple[str, ...] = (), env: tuple[str, ...] = ()) -> ContainerRequest:
    return ContainerRequest("main", 0, image, command, args, env)


def test_laneway_engines_run_under_any_image_on_a_default_local_cluster() -> None:
    for image in ("laneway/engine-sim", "vllm/vllm-openai:v0.23.0", "x"):
        choice = choose_engine(_request(image, args=("--port", "$(LANEWAY_PORT)")), DEFAULT_LOCAL_ENGINES)
        assert choice == Launch(DEFAULT_LOCAL_ENGINES.engines[0], (*SIM, "--port", "$(LANEWAY_PORT)"))
    llama = choose_engine(_request(command=("laneway", "engine", "llamacpp")), DEFAULT_LOCAL_ENGINES)
    assert isinstance(llama, Launch) and llama.engine.name == "llamacpp"


def test_a_host_command_is_refused_naming_the_allowed_engines() -> None:
    choice = choose_engine(_request("busybox", ("sh", "-c", "id > /tmp/x; exec sleep 30")), DEFAULT_LOCAL_ENGINES)
    assert isinstance(choice, NotAllowed)
    assert "engine 'main' member 1" in choice.message
    assert "['sh', '-c', 'id > /tmp/x; exec sleep 30'] is not ['laneway', 'engine', 'sim']" in choice.message
    assert "allowed engines: sim (any image: laneway engine sim), llamacpp (any image: laneway engine llamacpp)" in choice.message


def test_a_command_that_only_starts_like_an_allowed_one_is_refused() -> None:
    assert isinstance(choose_engine(_request(command=(*SIM, "--port", "1")), DEFAULT_LOCAL_ENGINES), NotAllowed)
    assert isinstance(choose_engine(_request(command=("laneway",)), DEFAULT_LOCAL_ENGINES), NotAllowed)


def test_the_image_selects_the_platform_command_and_an_empty_command_runs_it() -> None:
    policy = EnginePolicy((AllowedEngine("vllm", "vllm/vllm-openai:*", ("/opt/vllm/bin/vllm", "serve")),))
    choice = choose_engine(_request("vllm/vllm-openai:v0.23.0", (), ("--model", "m")), policy)
    assert choice == Launch(policy.engines[0], ("/opt/vllm/bin/vllm", "serve", "--model", "m"))
    refused = choose_engine(_request("evil/vllm:1", ()), policy)
    assert isinstance(refused, NotAllowed) and "image 'evil/vllm:1' is not 'vllm/vllm-openai:*'" in refused.message


def test_args_are_refused_where_the_platform_does_not_allow_them() -> None:
    policy = EnginePolicy((AllowedEngine("fixed", "*", ("/opt/fixed",), allow_args=False),))
    assert choose_engine(_request(command=(), args=()), policy) == Launch(policy.engines[0], ("/opt/fixed",))
    refused = choose_engine(_request(command=(), args=("--evil",)), policy)
    assert isinstance(refused, NotAllowed) and "fixed takes no args" in refused.message


def test_any_command_is_an_explicit_platform_choice() -> None:
    anything = EnginePolicy((AllowedEngine("anything", "*", (), allow_command=True),))
    choice = choose_engine(_request("busybox", ("sh", "-c", "true"), env=("LD_PRELOAD",)), anything)
    assert choice == Launch(anything.engines[0], ("sh", "-c", "true"))
    refused = choose_engine(_request("busybox", ()), anything)
    assert isinstance(refused, NotAllowed) and "has none" in refused.message


def test_loader_variables_cannot_turn_an_allowed_engine_into_another_program() -> None:
    for name in ("LD_PRELOAD", "PYTHONPATH", "PYTHONSTARTUP", "GCONV_PATH", "BASH_ENV", "NODE_OPTIONS", "PATH"):
        assert loader_variable(name), name
        refused = choose_engine(_request(env=(name, "OK")), DEFAULT_LOCAL_ENGINES)
        assert isinstance(refused, NotAllowed) and f"env {name} would change what sim loads" in refused.message
    for name in ("HF_TOKEN", "CUDA_VISIBLE_DEVICES", "PYTHONUNBUFFERED", "NODE_RANK", "VLLM_LOGGING_LEVEL"):
        assert not loader_variable(name), name


def _cluster(local: dict[str, Any] | None = None, *, source: str = "Local", name: str = "local", class_name: str = "cpu") -> InferenceCluster:
    block: dict[str, Any] = {"source": source, "local": local or {}} if source == "Local" else {
        "source": source, "existing": {"secretRef": {"name": "kc"}}}
    cluster = InferenceCluster.model_validate({
        "metadata": {"name": name, "labels": {"region": "here"}},
        "spec": {"cluster": block, "nodePools": [{"name": "p", "className": class_name, "nodeCount": 2, "accounting": "Device"}]},
    })
    cluster.status.conditions = [Condition(type="Ready", status="True", reason="Ready")]
    cluster.status.gateway.address = "http://127.0.0.1:1"
    return cluster


CLASS = InferenceClass.model_validate(
    {"metadata": {"name": "cpu"}, "spec": {"devices": [{"name": "cpu", "claim": "Synthetic", "driver": "cpu.laneway.dev", "count": 4}]}}
)
GPU_CLASS = InferenceClass.model_validate(
    {"metadata": {"name": "gpu"}, "spec": {"devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 4}]}}
)


def _deployment(command: list[str], *, env: list[dict[str, str]] | None = None) -> ModelDeployment:
    container = {"name": "engine", "image": "busybox", "command": command, "env": env or []}
    return ModelDeployment.model_validate({
        "metadata": {"name": "m", "namespace": "ml-team"},
        "spec": {"replicas": 1, "template": {"spec": {"engines": [{"name": "main", "members": [{
            "nodeSelector": {"devices": [{"name": "cpu", "selectors": [{"cel": "true"}]}]},
            "template": {"spec": {"containers": [container]}}}]}]}}},
    })


def test_engine_policy_defaults_for_local_clusters_and_none_elsewhere() -> None:
    assert engine_policy(_cluster()) == DEFAULT_LOCAL_ENGINES
    assert engine_policy(_cluster({"engines": []})) == EnginePolicy(())
    assert engine_policy(_cluster(source="Existing")) is None


def test_a_replica_whose_command_is_not_allowed_is_not_placed_and_the_reason_names_the_engines() -> None:
    placement = plan(_deployment(["sh", "-c", "id > /tmp/x"]), clusters=[_cluster()], classes=[CLASS])
    assert placement.replicas == () and placement.condition.reason == "NoClusters"
    assert placement.condition.message.startswith("0 of 1 replicas placed; no cluster is eligible: local: does not run this engine:")
    assert "allowed engines: sim (any image: laneway engine sim), llamacpp" in placement.condition.message
    assert plan(_deployment(list(SIM)), clusters=[_cluster()], classes=[CLASS]).condition.reason == "Scheduled"


def test_the_filter_keeps_other_clusters_and_separates_clusters_with_other_engines() -> None:
    any_command = _cluster({"engines": [{"name": "anything", "allowCommand": True}]}, name="open")
    placement = plan(_deployment(["sh", "-c", "true"]), clusters=[_cluster(), any_command], classes=[CLASS])
    assert [r.cluster for r in placement.replicas] == ["open"]
    kube_cluster = _cluster(source="Existing", name="kube", class_name="gpu")
    kube = plan(_deployment(["sh", "-c", "true"]), clusters=[_cluster(), kube_cluster], classes=[CLASS, GPU_CLASS])
    assert [r.cluster for r in kube.replicas] == ["kube"], "Kubernetes clusters isolate pods themselves"


def test_a_running_replica_edited_to_a_refused_command_is_dropped_not_kept() -> None:
    original = _deployment(list(SIM))
    before = plan(original, clusters=[_cluster()], classes=[CLASS])
    running = as_replicas(original, before.replicas)
    assert plan(original, clusters=[_cluster()], classes=[CLASS], replicas=running).replicas[0].retained
    edited = _deployment(list(SIM), env=[{"name": "LD_PRELOAD", "value": "/x.so"}])
    after = plan(edited, clusters=[_cluster()], classes=[CLASS], replicas=running)
    assert after.replicas == () and after.removed == (0,)
    assert "env LD_PRELOAD would change what sim loads" in after.condition.message


def test_allowed_engines_are_validated_where_the_platform_writes_them() -> None:
    def load(local: dict[str, Any]) -> str:
        doc = {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceCluster", "metadata": {"name": "c"},
               "spec": {"cluster": {"source": "Local", "local": local}}}
        with pytest.raises(InvalidObject) as e:
            parse_object(doc)
        return str(e.value)

    assert "needs 'command'" in load({"engines": [{"name": "vllm", "image": "vllm/*"}]})
    assert "repeated: sim" in load({"engines": [{"name": "sim", "command": ["a"]}, {"name": "sim", "command": ["b"]}]})
    assert "allowCommand" in load({"engines": [{"name": "x", "command": ["a"], "allowCommand": "yes"}]})
