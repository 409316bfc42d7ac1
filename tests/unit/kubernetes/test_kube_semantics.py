"""What no schema catches: the rendered objects behave on a real cluster as laneway means them to.

Each test names the cluster behaviour it guards (LeaderWorkerSet's headless Service, gateway
timeouts, immutable claim templates, the InferencePool's port, ...) and checks it on the
rendered objects."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kube_samples import cluster, replica

from laneway.api.kinds import InferenceCluster, ModelReplica
from laneway.drivers.kubernetes.errors import RenderError
from laneway.drivers.kubernetes.naming import route_targets
from laneway.drivers.kubernetes.observe import Snapshot, expected_workloads, summarize
from laneway.drivers.kubernetes.render import render
from laneway.drivers.kubernetes.validation import validate_objects


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _render(r: ModelReplica, c: InferenceCluster | None = None) -> list[dict[str, Any]]:
    return render(r, c or cluster(r.spec.cluster_name))


def _with_existing(c: InferenceCluster, **settings: Any) -> InferenceCluster:
    c = c.model_copy(deep=True)
    assert c.spec.cluster.existing is not None and c.spec.cluster.existing.__pydantic_extra__ is not None
    c.spec.cluster.existing.__pydantic_extra__.update(settings)
    return c


def _containers(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(engine, pod spec, engine container) of every engine pod template."""
    out = []
    for o in objects:
        engine = o["metadata"]["labels"].get("laneway.dev/engine", "")
        if o["kind"] == "Deployment" and engine != "epp":
            pods = [o["spec"]["template"]]
        elif o["kind"] == "LeaderWorkerSet":
            t = o["spec"]["leaderWorkerTemplate"]
            pods = [t["leaderTemplate"], t["workerTemplate"]]
        else:
            continue
        out += [(engine, p["spec"], p["spec"]["containers"][0]) for p in pods]
    return out


# --- 1. LeaderWorkerSet owns the Service under its own name ------------------------------


def test_no_service_takes_the_name_of_a_leaderworkerset_headless_service() -> None:
    """LWS creates its headless Service `<set>` only when none exists; the leader address
    resolves only through it. laneway's Service must be another one."""
    for deployment in ("llama-405b", "qwen-7b", "qwen-rag", "llama-70b-pd"):
        objects = _render(replica(deployment))
        sets = {o["metadata"]["name"] for o in _by_kind(objects, "LeaderWorkerSet")}
        services = {o["metadata"]["name"] for o in _by_kind(objects, "Service")}
        assert not sets & services, deployment
    objects = _render(replica("llama-405b"))
    [lws] = _by_kind(objects, "LeaderWorkerSet")
    [service] = _by_kind(objects, "Service")
    assert service["metadata"]["name"] == f"{lws['metadata']['name']}-leader"
    assert service["spec"]["type"] == "ClusterIP" and "publishNotReadyAddresses" not in service["spec"]
    [route] = _by_kind(objects, "HTTPRoute")
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == service["metadata"]["name"]


def test_engine_names_that_would_collide_are_refused_with_what_to_rename() -> None:
    r = replica("llama-405b")
    doc = r.model_dump(by_alias=True, exclude_none=True)
    standalone = replica("qwen-7b").model_dump(by_alias=True, exclude_none=True)["spec"]["engines"][0]
    doc["spec"]["engines"].append({**standalone, "name": "vllm-leader"})  # its Service would be `<replica>-vllm-leader`
    with pytest.raises(RenderError, match="rename one of the engines"):
        _render(ModelReplica.model_validate(doc))


# --- 2. routes carry a timeout long generations survive --------------------------------


def test_every_route_rule_has_a_request_timeout_and_the_cluster_can_set_it() -> None:
    for deployment in ("llama-405b", "qwen-7b", "qwen-rag", "llama-70b-pd"):
        for route in _by_kind(_render(replica(deployment)), "HTTPRoute"):
            assert [rule["timeouts"] for rule in route["spec"]["rules"]] == [{"request": "600s"}], deployment
    r = replica("qwen-7b")
    c = _with_existing(cluster(r.spec.cluster_name), routeTimeout="1h")
    [route] = _by_kind(_render(r, c), "HTTPRoute")
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "1h"}
    with pytest.raises(RenderError, match="routeTimeout '10 minutes' is not a Gateway API duration"):
        _render(r, _with_existing(cluster(r.spec.cluster_name), routeTimeout="10 minutes"))


# --- 3. one route never mixes two engines ----------------------------------------------


def test_a_two_engine_replica_gets_one_route_per_engine_each_with_one_backend() -> None:
    r = replica("qwen-rag")
    objects = _render(r)
    routes = _by_kind(objects, "HTTPRoute")
    assert len(routes) == 2
    services = {s["metadata"]["labels"]["laneway.dev/engine"]: s["metadata"]["name"] for s in _by_kind(objects, "Service")}
    for route in routes:
        engine = route["metadata"]["labels"]["laneway.dev/engine"]
        [rule] = route["spec"]["rules"]
        assert [b["name"] for b in rule["backendRefs"]] == [services[engine]]  # one backend: one model
        assert rule["matches"][0]["path"]["value"] == f"/ml-team/{r.name}/{engine}"
    assert sorted(r["metadata"]["labels"]["laneway.dev/engine"] for r in routes) == ["chat", "embed"]


# --- 4. ResourceClaimTemplate spec is immutable ----------------------------------------


def _claim_names(r: ModelReplica) -> list[str]:
    return [o["metadata"]["name"] for o in _by_kind(_render(r), "ResourceClaimTemplate")]


def test_a_changed_device_request_is_a_new_claim_template_and_the_workload_names_it() -> None:
    r = replica("qwen-7b")
    before = _claim_names(r)
    assert _claim_names(r) == before  # stable while nothing changes
    more = r.model_copy(deep=True)
    more.spec.engines[0].members[0].device_requests[0].count = 2
    [after] = _claim_names(more)
    assert after not in before
    [dep] = _by_kind(_render(more), "Deployment")
    assert dep["spec"]["template"]["spec"]["resourceClaims"][0]["resourceClaimTemplateName"] == after
    narrower = r.model_copy(deep=True)
    narrower.spec.engines[0].members[0].device_requests[0].selectors = []
    assert _claim_names(narrower)[0] not in [*before, after]


# --- 5. PrefillDecode as llm-d runs it --------------------------------------------------


def test_inference_pool_targets_the_engines_port_and_decode_pods_run_the_routing_sidecar() -> None:
    r = replica("llama-70b-pd")
    for engine in r.spec.engines:  # serve prefill on 9000 and decode on 9100
        engine.members[0].container.port = 9000 if engine.phase == "Prefill" else 9100
    objects = _render(r)
    [pool] = _by_kind(objects, "InferencePool")
    assert pool["spec"]["targetPorts"] == [{"number": 9000}]
    by_engine = {engine: (spec, c) for engine, spec, c in _containers(objects)}
    prefill_spec, prefill = by_engine["prefill"]
    decode_spec, decode = by_engine["decode"]
    assert [p["containerPort"] for p in prefill["ports"]] == [9000]
    assert "initContainers" not in prefill_spec
    [sidecar] = decode_spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always" and sidecar["ports"][0]["containerPort"] == 9000
    assert "-vllm-port=9100" in sidecar["args"] and "-connector=nixlv2" in sidecar["args"]
    assert "-enable-ssrf-protection=true" in sidecar["args"]  # clients write the prefill header: forward to pool pods only
    assert decode_spec["serviceAccountName"] == pool["spec"]["endpointPickerRef"]["name"]
    for c in (prefill, decode):
        env = {e["name"]: e for e in c["env"]}
        assert env["VLLM_NIXL_SIDE_CHANNEL_HOST"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_a_decode_engine_on_the_pool_port_is_refused_saying_which_port_to_use() -> None:
    r = replica("llama-70b-pd")
    for engine in r.spec.engines:
        engine.members[0].container.port = 8000
    with pytest.raises(RenderError, match="serve the engine on another port"):
        _render(r)


def test_endpoint_picker_has_metrics_auth_rbac_recreate_and_a_grace_period() -> None:
    objects = _render(replica("llama-70b-pd"))
    [role] = _by_kind(objects, "ClusterRole")
    resources = {res for rule in role["rules"] for res in rule["resources"]}
    assert resources == {"tokenreviews", "subjectaccessreviews"}
    [binding] = _by_kind(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] and binding["subjects"][0]["namespace"] == "laneway-ml-team"
    [picker] = [d for d in _by_kind(objects, "Deployment") if d["metadata"]["labels"]["laneway.dev/engine"] == "epp"]
    assert picker["spec"]["strategy"] == {"type": "Recreate"}
    assert picker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 130


# --- readiness says no more than the cluster does --------------------------------------


def _ready_workloads(r: ModelReplica) -> dict[str, Any]:
    ready = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "readyReplicas": 9,
                                                     "conditions": [{"type": "Available", "status": "True"}]}}
    return {w.name: ready for w in expected_workloads(r)}


ACCEPTED = {"parents": [{"parentRef": {"name": "laneway", "namespace": "laneway-system"},
                         "conditions": [{"type": "Accepted", "status": "True"}, {"type": "ResolvedRefs", "status": "True"}]}]}


def test_readiness_is_false_until_the_route_is_accepted_by_the_gateway() -> None:
    r = replica("qwen-7b")
    [target] = route_targets(r)
    for status in ({}, {"parents": []}, {"parents": [{"parentRef": {"name": "other-gateway"}, "conditions": [{"type": "Accepted", "status": "True"}]}]}):
        seen = summarize(r, Snapshot(workloads=_ready_workloads(r), routes={target.name: {"status": status}}, gateway_address="http://g"))
        assert not seen.ready and seen.reason == "RouteNotAccepted", status
    seen = summarize(r, Snapshot(workloads=_ready_workloads(r), routes={target.name: {"status": ACCEPTED}}, gateway_address="http://g"))
    assert seen.ready


def test_prefill_decode_readiness_needs_the_picker_and_an_accepted_pool() -> None:
    r = replica("llama-70b-pd")
    [target] = route_targets(r)
    routes = {target.name: {"status": ACCEPTED}}
    workloads = _ready_workloads(r)
    picker = next(w.name for w in expected_workloads(r) if w.engine == "epp")
    starting = dict(workloads)
    starting[picker] = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "readyReplicas": 0}}
    seen = summarize(r, Snapshot(workloads=starting, routes=routes, pool={"status": ACCEPTED}, gateway_address="http://g"))
    assert seen.reason == "EnginesStarting" and picker in seen.message
    seen = summarize(r, Snapshot(workloads=workloads, routes=routes, pool={"status": {}}, gateway_address="http://g"))
    assert seen.reason == "PoolNotAccepted"
    assert summarize(r, Snapshot(workloads=workloads, routes=routes, pool={"status": ACCEPTED}, gateway_address="http://g")).ready


# --- pods that behave on GPU nodes -----------------------------------------------------


def test_engine_pods_are_not_best_effort_and_have_probes_grace_and_bounded_shm() -> None:
    objects = _render(replica("qwen-7b"))
    [(_, spec, c)] = _containers(objects)
    assert c["resources"]["requests"] == {"cpu": "2", "memory": "16Gi"}  # one GPU
    assert c["startupProbe"]["httpGet"]["path"] == "/health" and c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 1800
    assert "livenessProbe" in c and c["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert spec["terminationGracePeriodSeconds"] == 130
    assert spec["volumes"][0]["emptyDir"]["sizeLimit"] == "8Gi"
    [dep] = _by_kind(objects, "Deployment")
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}  # no spare GPU needed to roll


def test_requests_and_probes_the_team_wrote_are_kept() -> None:
    r = replica("qwen-7b")
    container = r.spec.engines[0].members[0].template.spec.containers[0]
    assert container.__pydantic_extra__ is not None
    container.__pydantic_extra__["resources"] = {"requests": {"cpu": "6"}}
    container.__pydantic_extra__["livenessProbe"] = {"tcpSocket": {"port": 8000}}
    [(_, _, c)] = _containers(_render(r))
    assert c["resources"]["requests"]["cpu"] == "6" and c["resources"]["requests"]["memory"] == "16Gi"
    assert c["livenessProbe"] == {"tcpSocket": {"port": 8000}}


def test_infiniband_pools_give_multi_node_engines_an_rdma_device_and_ipc_lock() -> None:
    objects = _render(replica("llama-405b"))  # gpu-eu's pool is on InfiniBand
    for _, _, c in _containers(objects):
        assert c["resources"]["limits"]["rdma/ib"] == "1" and "IPC_LOCK" in c["securityContext"]["capabilities"]["add"]
    for _, _, c in _containers(_render(replica("qwen-7b"))):  # one pod, one node: NVLink, no RDMA
        assert "rdma/ib" not in str(c) and "securityContext" not in c


# --- node pools selected by the provider's own label -----------------------------------


def test_pods_select_their_pool_by_the_clusters_pool_label_or_the_pools_own_selector() -> None:
    r = replica("qwen-7b")
    c = cluster(r.spec.cluster_name)
    [(_, spec, _)] = _containers(_render(r, c))
    assert spec["nodeSelector"] == {"laneway.dev/pool": "h100"}
    gke = _with_existing(c, nodePoolLabel="cloud.google.com/gke-nodepool")
    [(_, spec, _)] = _containers(_render(r, gke))
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "h100"}
    own = c.model_copy(deep=True)
    own.spec.node_pools[0].node_selector = {"eks.amazonaws.com/nodegroup": "gpu-h100-a"}
    [(_, spec, _)] = _containers(_render(r, own))
    assert spec["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "gpu-h100-a"}


def test_provider_clusters_default_to_the_providers_node_pool_label() -> None:
    from laneway.drivers.kubernetes.settings import cluster_settings

    for source, block, label in (("GKE", "gke", "cloud.google.com/gke-nodepool"), ("EKS", "eks", "eks.amazonaws.com/nodegroup"),
                                 ("AKS", "aks", "kubernetes.azure.com/agentpool")):
        c = InferenceCluster.model_validate({"metadata": {"name": "c"}, "spec": {"cluster": {"source": source, block: {"region": "r"}},
                                             "nodePools": [{"name": "gpu", "className": "x"}]}})
        assert cluster_settings(c).pool_selector("gpu") == {label: "gpu"}


def test_a_team_cannot_move_its_pods_off_the_placed_pool_or_take_another_service_account() -> None:
    """The team lane writes the pod template: its nodeSelector and serviceAccountName must not
    beat the pool the scheduler chose or the account laneway gives the decode pods."""
    r = replica("llama-70b-pd")
    for engine in r.spec.engines:
        extra = engine.members[0].template.spec.__pydantic_extra__
        assert extra is not None
        extra["nodeSelector"] = {"kubernetes.io/hostname": "someone-elses-node"}
        extra["serviceAccountName"] = "default"
    for engine, spec, _ in _containers(_render(r)):
        assert spec["nodeSelector"] == {"laneway.dev/pool": "h100"}, engine
        if engine == "decode":
            assert spec["serviceAccountName"] == f"{r.name}-epp"


# --- Dynamo: Grove gangs scheduled by KAI, and what is not composed said -----------------


def _dynamo(c: InferenceCluster, **settings: Any) -> InferenceCluster:
    c = _with_existing(c, **settings) if settings else c.model_copy(deep=True)
    c.spec.stack = "Dynamo"
    return c


def _grove_env(container: dict[str, Any], pod_labels: dict[str, str], grove: list[dict[str, str]]) -> dict[str, str]:
    """Grove prepends its variables to every container's env (PrependEnvVarsToContainers); the
    kubelet then resolves each entry from those defined before it."""
    resolved: dict[str, str] = {}
    for entry in [*grove, *container["env"]]:
        if "value" in entry:
            resolved[entry["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: resolved.get(m.group(1), m.group(0)), entry["value"])
        else:
            resolved[entry["name"]] = f"<{entry['valueFrom']}>"
    return resolved


def test_a_dynamo_cluster_runs_a_leader_worker_engine_as_a_grove_gang_valid_against_its_crd() -> None:
    r = replica("llama-405b")
    objects = _render(r, _dynamo(cluster(r.spec.cluster_name), kaiQueue="inference"))
    assert not _by_kind(objects, "LeaderWorkerSet")  # never the Standard objects on a Dynamo cluster
    [pcs] = _by_kind(objects, "PodCliqueSet")
    validate_objects([pcs])  # Grove's own PodCliqueSet CRD, bundled (strict: unknown fields refused)
    assert pcs["apiVersion"] == "grove.io/v1alpha1" and pcs["spec"]["replicas"] == 1  # one group per copy
    template = pcs["spec"]["template"]
    assert template["cliqueStartupType"] == "CliqueStartupTypeInOrder"
    cliques = {c["name"]: c for c in template["cliques"]}
    assert list(cliques) == ["leader", "worker-1", "worker-2"]  # worker.nodes: 2, one clique per rank
    for name, clique in cliques.items():
        assert len(pcs["metadata"]["name"]) + len(name) <= 45  # Grove's admission rule for pod names
        assert clique["spec"]["replicas"] == 1 and clique["labels"]["kai.scheduler/queue"] == "inference"
        pod = clique["spec"]["podSpec"]
        assert pod["schedulerName"] == "kai-scheduler"
        assert pod["resourceClaims"][0]["resourceClaimTemplateName"].startswith(f"{r.name}-vllm-")
        grove = [{"name": "GROVE_PCS_NAME", "value": pcs["metadata"]["name"]}, {"name": "GROVE_PCS_INDEX", "value": "0"},
                 {"name": "GROVE_HEADLESS_SERVICE", "value": f"{pcs['metadata']['name']}-0.laneway-ml-team.svc.cluster.local"}]
        env = _grove_env(pod["containers"][0], clique["labels"], grove)
        assert env["LANEWAY_RANK"] == ("0" if name == "leader" else name.rsplit("-", 1)[1])
        assert env["LANEWAY_LEADER_ADDRESS"] == f"{pcs['metadata']['name']}-0-leader-0.{pcs['metadata']['name']}-0.laneway-ml-team.svc.cluster.local"
    assert cliques["leader"]["labels"]["laneway.dev/serving"] == "true" and "laneway.dev/serving" not in cliques["worker-1"]["labels"]
    [service] = _by_kind(objects, "Service")
    assert service["spec"]["selector"].items() <= cliques["leader"]["labels"].items()


def test_a_dynamo_cluster_schedules_standalone_engines_with_kai_too() -> None:
    r = replica("qwen-7b")
    [(_, spec, _)] = _containers(_render(r, _dynamo(cluster(r.spec.cluster_name))))
    assert spec["schedulerName"] == "kai-scheduler"
    [dep] = _by_kind(_render(r, _dynamo(cluster(r.spec.cluster_name))), "Deployment")
    assert dep["spec"]["template"]["metadata"]["labels"]["kai.scheduler/queue"] == "default"


def test_a_long_engine_name_still_fits_grove_and_a_standard_cluster_is_unchanged() -> None:
    r = replica("llama-405b")
    doc = r.model_dump(by_alias=True, exclude_none=True)
    doc["spec"]["engines"][0]["name"] = "a-rather-long-engine-name-for-grove"
    long = ModelReplica.model_validate(doc)
    [pcs] = _by_kind(_render(long, _dynamo(cluster(r.spec.cluster_name))), "PodCliqueSet")
    assert len(pcs["metadata"]["name"]) + len("worker-2") <= 45
    standard = _render(r)
    assert _by_kind(standard, "LeaderWorkerSet") and not _by_kind(standard, "PodCliqueSet")
    assert all("schedulerName" not in spec for _, spec, _ in _containers(standard))


def test_readiness_counts_available_grove_groups() -> None:
    r = replica("llama-405b")
    [w] = expected_workloads(r, stack="Dynamo")
    assert w.kind == "PodCliqueSet"
    [target] = route_targets(r)
    routes = {target.name: {"status": ACCEPTED}}
    starting = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "replicas": 1, "availableReplicas": 0}}
    seen = summarize(r, Snapshot(workloads={w.name: starting}, routes=routes, gateway_address="http://g", stack="Dynamo"))
    assert seen.reason == "EnginesStarting" and "PodCliqueSet" in seen.message
    ready = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "replicas": 1, "availableReplicas": 1}}
    assert summarize(r, Snapshot(workloads={w.name: ready}, routes=routes, gateway_address="http://g", stack="Dynamo")).ready
