"""`render(replica, cluster)`: what each object holds, as a Kubernetes engineer expects it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kube_samples import cluster, replica

from laneway.api.kinds import ModelReplica
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import bounded_name, gateway_ref, service_name
from laneway.drivers.kubernetes.render import RenderOptions, render


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["labels"].get("laneway.dev/engine") != "epp":
            out.append(o["spec"]["template"])
        if o["kind"] == "LeaderWorkerSet":
            t = o["spec"]["leaderWorkerTemplate"]
            out += [t["leaderTemplate"], t["workerTemplate"]]
    return out


def _render(deployment: str, cluster_name: str = "gpu-eu", index: int = 0) -> list[dict[str, Any]]:
    r = replica(deployment, index)
    return render(r, cluster(r.spec.cluster_name))


def test_standalone_is_a_deployment_with_copies_pinned_to_its_pool() -> None:
    objects = _render("qwen-7b")
    [dep] = _by_kind(objects, "Deployment")
    assert dep["spec"]["replicas"] == 1
    pod = dep["spec"]["template"]
    assert pod["spec"]["nodeSelector"] == {"laneway.dev/pool": "h100"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}} in pod["spec"]["volumes"]
    [c] = pod["spec"]["containers"]
    assert c["name"] == "engine" and c["ports"][0]["containerPort"] == 8000
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    env = {e["name"]: e for e in c["env"]}
    assert env["LANEWAY_RANK"]["value"] == "0" and env["MODELPLANE_PORT"]["value"] == "8000"
    assert env["LANEWAY_LEADER_ADDRESS"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_leader_worker_is_one_leaderworkerset_group_with_lws_variables() -> None:
    objects = _render("llama-405b")
    [lws] = _by_kind(objects, "LeaderWorkerSet")
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 3  # a leader and worker.nodes: 2
    rank = {"fieldRef": {"fieldPath": "metadata.labels['leaderworkerset.sigs.k8s.io/worker-index']"}}
    for pod in (template["leaderTemplate"], template["workerTemplate"]):
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["LANEWAY_LEADER_ADDRESS"]["value"] == "$(LWS_LEADER_ADDRESS)" == env["MODELPLANE_LEADER_ADDRESS"]["value"]
        assert env["LANEWAY_RANK"]["valueFrom"] == rank == env["MODELPLANE_RANK"]["valueFrom"]
    assert "readinessProbe" in template["leaderTemplate"]["spec"]["containers"][0]
    assert "readinessProbe" not in template["workerTemplate"]["spec"]["containers"][0]


def test_claim_templates_carry_each_device_request_verbatim_and_drop_synthetic_devices() -> None:
    objects = _render("llama-405b")
    rcts = _by_kind(objects, "ResourceClaimTemplate")
    names = [r["metadata"]["name"] for r in rcts]
    assert [n.rsplit("-", 1)[0] for n in names] == ["llama-405b-0-vllm-leader", "llama-405b-0-vllm-worker"]
    [request] = rcts[0]["spec"]["spec"]["devices"]["requests"]  # the class's Synthetic 'ib' device is not claimed
    assert request == {
        "name": "gpu",
        "exactly": {
            "deviceClassName": "gpu.nvidia.com",
            "allocationMode": "ExactCount",
            "count": 8,
            "selectors": [{"cel": {"expression": 'device.attributes["gpu.nvidia.com"].architecture == "Hopper"'}}],
        },
    }
    leader = _by_kind(objects, "LeaderWorkerSet")[0]["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]
    assert leader["resourceClaims"] == [{"name": "devices", "resourceClaimTemplateName": names[0]}]
    assert leader["containers"][0]["resources"]["claims"] == [{"name": "devices"}]


def test_cache_is_mounted_read_only_at_mnt_models() -> None:
    objects = _render("qwen-rag")
    for pod in _pod_specs(objects):
        assert {"name": "model-cache", "mountPath": "/mnt/models", "readOnly": True} in pod["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "modelcache-qwen-weights", "readOnly": True}} in pod["spec"]["volumes"]
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["LANEWAY_MODEL_CACHE"] == env["MODELPLANE_MODEL_CACHE"] == "/mnt/models"
    no_cache = _render("qwen-7b")
    assert all("model-cache" not in str(p) for p in _pod_specs(no_cache))


def test_route_exposes_the_replica_under_its_prefix_rewritten_to_root() -> None:
    objects = _render("qwen-7b")
    [route] = _by_kind(objects, "HTTPRoute")
    [rule] = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/ml-team/qwen-7b-0"}}]
    assert rule["filters"] == [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]
    assert rule["backendRefs"] == [{"name": "qwen-7b-0-vllm", "port": 8000}]
    assert route["spec"]["parentRefs"][0]["name"] == "laneway"


def test_prefill_decode_routes_through_an_inference_pool_with_a_pd_endpoint_picker() -> None:
    objects = _render("llama-70b-pd")
    [pool] = _by_kind(objects, "InferencePool")
    assert pool["spec"]["endpointPickerRef"]["name"] == "llama-70b-pd-0-epp"
    assert pool["spec"]["selector"]["matchLabels"]["laneway.dev/serving"] == "true"
    [route] = _by_kind(objects, "HTTPRoute")
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "llama-70b-pd-0"}
    ]
    roles = sorted(p["metadata"]["labels"]["llm-d.ai/role"] for p in _pod_specs(objects))
    assert roles == ["decode", "prefill"]
    [config] = _by_kind(objects, "ConfigMap")
    assert "pd-profile-handler" in config["data"]["epp-config.yaml"]


def test_every_object_is_tied_to_its_replica_deployment_and_laneway() -> None:
    for deployment in ("qwen-7b", "llama-405b", "qwen-rag", "llama-70b-pd"):
        for obj in _render(deployment)[1:]:  # the shared Namespace is tied to laneway only
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "laneway"
            assert labels["laneway.dev/replica"] == f"{deployment}-0"
            assert labels["laneway.dev/deployment"] == deployment
            assert labels["laneway.dev/namespace"] == "ml-team"
            if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):  # the picker's metrics auth is cluster-wide
                assert obj["metadata"]["namespace"] == "laneway-ml-team"


def test_target_cluster_annotation_on_request() -> None:
    r = replica("qwen-7b")
    objects = render(r, cluster(r.spec.cluster_name), RenderOptions(target_cluster_annotation=True))
    assert {o["metadata"]["annotations"]["laneway.dev/target-cluster"] for o in objects} == {r.spec.cluster_name}


def test_render_is_pure_and_stable() -> None:
    assert _render("llama-70b-pd") == _render("llama-70b-pd")


def test_two_worker_members_cannot_be_one_leaderworkerset() -> None:
    r = replica("llama-405b")
    doc = r.model_dump(by_alias=True, exclude_none=True)
    worker = doc["spec"]["engines"][0]["members"][1]
    doc["spec"]["engines"][0]["members"].append(worker)
    bad = ModelReplica.model_validate(doc)
    with pytest.raises(RenderError, match="one Worker member"):
        render(bad, cluster("gpu-eu"))


def test_wrong_cluster_is_refused() -> None:
    r = replica("qwen-7b")
    other = "gpu-us" if r.spec.cluster_name == "gpu-eu" else "gpu-eu"
    with pytest.raises(RenderError, match=r"spec\.clusterName"):
        render(r, cluster(other))


def test_long_names_stay_valid_and_distinct() -> None:
    a = bounded_name("x" * 60, "engine-a")
    b = bounded_name("x" * 60, "engine-b")
    assert len(a) <= 63 and len(b) <= 63 and a != b
    assert service_name("9lives", "vllm").startswith("r-")


def test_gateway_ref_default_and_override() -> None:
    assert gateway_ref(cluster("gpu-us")).name == "laneway"
    c = cluster("gpu-eu").model_copy(deep=True)
    assert c.spec.cluster.existing is not None
    c.spec.cluster.existing.__pydantic_extra__["gatewayRef"] = {"name": "inference", "namespace": "gw"}
    ref = gateway_ref(c)
    assert (ref.name, ref.namespace) == ("inference", "gw")


def _expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: only variables defined earlier resolve; others stay literal."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: defined.get(m.group(1), m.group(0)), value)


def _pod_env_as_the_kubelet_sees_it(container: dict[str, Any], pod_labels: dict[str, str], lws: list[dict[str, str]]) -> dict[str, str]:
    """LeaderWorkerSet's webhook prepends its variables (sigs.k8s.io/lws pkg/utils/pod
    addEnvVarsIfNotExists); the kubelet then resolves each entry in order."""
    resolved: dict[str, str] = {}
    names = {e["name"] for e in lws}
    for entry in [*lws, *(e for e in container["env"] if e["name"] not in names)]:
        if "value" in entry:
            resolved[entry["name"]] = _expand(entry["value"], resolved)
        else:
            path = entry["valueFrom"]["fieldRef"]["fieldPath"]
            label = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
            resolved[entry["name"]] = pod_labels[label.group(1)] if label else f"<{path}>"
    return resolved


def test_leader_worker_variables_resolve_in_kubernetes_env_order() -> None:
    objects = _render("llama-405b")
    [lws] = _by_kind(objects, "LeaderWorkerSet")
    template = lws["spec"]["leaderWorkerTemplate"]
    leader_address = "llama-405b-0-vllm-0.llama-405b-0-vllm.laneway-ml-team"
    injected = [{"name": "LWS_LEADER_ADDRESS", "value": leader_address}, {"name": "LWS_GROUP_SIZE", "value": "3"}]
    for pod, index in ((template["leaderTemplate"], "0"), (template["workerTemplate"], "2")):
        container = dict(pod["spec"]["containers"][0])
        container["env"] = [*container["env"], {"name": "ENGINE_ARGS", "value": "--rank=$(LANEWAY_RANK) --head=$(LANEWAY_LEADER_ADDRESS)"}]
        labels = {**pod["metadata"]["labels"], "leaderworkerset.sigs.k8s.io/worker-index": index}
        env = _pod_env_as_the_kubelet_sees_it(container, labels, injected)
        assert env["LANEWAY_LEADER_ADDRESS"] == env["MODELPLANE_LEADER_ADDRESS"] == leader_address
        assert env["LANEWAY_RANK"] == env["MODELPLANE_RANK"] == index
        assert env["ENGINE_ARGS"] == f"--rank={index} --head={leader_address}"  # the user's env comes after laneway's
        assert not any("$(" in v for k, v in env.items() if k.startswith(("LANEWAY_", "MODELPLANE_")))
