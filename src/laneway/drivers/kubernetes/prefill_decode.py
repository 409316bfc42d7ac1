"""What disaggregated serving (`serving.mode: PrefillDecode`) adds to engine pods, as llm-d runs it.

The endpoint picker chooses a prefill pod and a decode pod for each request and sends the
request to the decode pod, naming the prefill pod in a header. Something on the decode pod
must act on that header, or decode does all the work and the prefill GPUs sit idle: llm-d's
routing sidecar. So, on every decode pod:

- the routing sidecar runs as a native sidecar (an init container with `restartPolicy:
  Always`) on the InferencePool's target port, forwards the prefill step to the named prefill
  pod and then the request to the engine on its own port, which must differ from the pool's.
  Its SSRF protection is on: it forwards only to pods the InferencePool selects (a client can
  write the header, and clients are not trusted), which needs the endpoint picker's
  ServiceAccount (it may read pods and the pool);
- every prefill and decode engine gets `VLLM_NIXL_SIDE_CHANNEL_HOST` = its pod IP, so the KV
  cache handshake (NIXL) reaches the pod rather than `localhost`.

The InferencePool targets the prefill engines' serving port (the decode pods' sidecar listens
on the same one), never a fixed 8000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from laneway.api.kinds.deployment import ModelReplica, ReplicaEngine, ReplicaMember
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import ENGINE_PORT, is_serving, picker_name, pool_name, target_namespace

ROUTING_SIDECAR_IMAGE = "ghcr.io/llm-d/llm-d-routing-sidecar:v0.3.0"
ROUTING_SIDECAR_NAME = "routing-proxy"
NIXL_HOST_ENV = "VLLM_NIXL_SIDE_CHANNEL_HOST"


@dataclass(frozen=True)
class PodExtras:
    """What one member's pods get for disaggregated serving (nothing under Unified)."""

    env: tuple[dict[str, Any], ...] = ()
    sidecars: tuple[dict[str, Any], ...] = ()
    service_account: str | None = None


def _serving_port(engine: ReplicaEngine) -> int:
    member = next((m for m in engine.members if is_serving(m)), None)
    return (member.container.port if member is not None else None) or ENGINE_PORT


def pool_port(replica: ModelReplica) -> int:
    """The InferencePool's target port: where the prefill engines serve (they must agree)."""
    ports = sorted({_serving_port(e) for e in replica.spec.engines if (e.phase or "") == "Prefill"})
    if len(ports) > 1:
        raise RenderError(
            f"replica {replica.key}: the prefill engines serve on ports {', '.join(map(str, ports))}; an InferencePool "
            "targets one port, so give every prefill engine's container the same port"
        )
    return ports[0] if ports else ENGINE_PORT


def _routing_sidecar(replica: ModelReplica, engine: ReplicaEngine, port: int) -> dict[str, Any]:
    engine_port = _serving_port(engine)
    if engine_port == port:
        raise RenderError(
            f"replica {replica.key}: decode engine {engine.name!r} serves on port {engine_port}, the InferencePool's port, "
            f"where its routing sidecar must listen; serve the engine on another port (e.g. port: 8200 on its container "
            "and --port 8200 in its args)"
        )
    return {
        "name": ROUTING_SIDECAR_NAME,
        "image": ROUTING_SIDECAR_IMAGE,
        "restartPolicy": "Always",
        "args": [
            f"-port={port}",
            f"-vllm-port={engine_port}",
            "-connector=nixlv2",
            "-secure-proxy=false",
            "-enable-ssrf-protection=true",
            f"-inference-pool-name={pool_name(replica)}",
            f"-inference-pool-namespace={target_namespace(replica.namespace)}",
        ],
        "ports": [{"name": "proxy", "containerPort": port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }


def pod_extras(replica: ModelReplica, engine: ReplicaEngine, member: ReplicaMember) -> PodExtras:
    if replica.spec.serving.mode != "PrefillDecode" or engine.phase not in ("Prefill", "Decode"):
        return PodExtras()
    env = ({"name": NIXL_HOST_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},)
    if engine.phase == "Decode" and is_serving(member):
        return PodExtras(env=env, sidecars=(_routing_sidecar(replica, engine, pool_port(replica)),), service_account=picker_name(replica))
    return PodExtras(env=env)
