"""The few controllers whose effects a real cluster shows at once, and laneway depends on.

Played synchronously after a write, inside the state's lock (tests still play the rest, such
as Deployment and pod statuses, by writing them):

- **LeaderWorkerSet** creates the set's headless Service under the set's own name when no
  Service of that name exists (as `leaderworkerset_controller.go` does; the leader address
  `$(LWS_LEADER_ADDRESS)` resolves only through it), and deletes it with the set;
- **the Gateway implementation** writes an HTTPRoute's `status.parents` when the route's
  spec is written (and every route's when a Gateway's is): an entry for each parent Gateway that exists, `Accepted` when a listener's
  `allowedRoutes` admits the route's namespace (else `NotAllowedByListeners`), and
  `ResolvedRefs` when every backend (Service or InferencePool) exists (else
  `BackendNotFound`); a parent Gateway that does not exist gets no entry, so the route stays
  unattached, as on a real cluster. An accepted route's InferencePool backends get the same
  entry in their own `status.parents`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from laneway.testing.fake_kube.state import ClusterState, Served

LWS_GROUP = "leaderworkerset.x-k8s.io"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_MANAGER = "lws-controller-manager"
GATEWAY_GROUP = "gateway.networking.k8s.io"
INFERENCE_GROUP = "inference.networking.k8s.io"
GATEWAY_MANAGER = "fake-gateway-controller"


def after_write(state: ClusterState, served: Served, obj: dict[str, Any], verb: str) -> None:
    if verb == "status":
        return
    if served.group == LWS_GROUP and served.kind == "LeaderWorkerSet":
        _lws_headless_service(state, obj)
    if served.group == GATEWAY_GROUP and served.kind == "HTTPRoute":
        _route_status(state, obj)
    if served.group == GATEWAY_GROUP and served.kind == "Gateway":  # its listeners decide every route's attachment
        for (group, plural, _, _), route in list(state.objects.items()):
            if (group, plural) == (GATEWAY_GROUP, "httproutes"):
                _route_status(state, route)


def after_delete(state: ClusterState, served: Served, obj: dict[str, Any]) -> None:
    if served.group == LWS_GROUP and served.kind == "LeaderWorkerSet":
        meta = obj["metadata"]
        key = ("", "services", meta["namespace"], meta["name"])
        service = state.objects.get(key)
        if service is not None and any(m["manager"] == LWS_MANAGER for m in service["metadata"].get("managedFields", [])) and (
            service["metadata"].get("labels") or {}
        ).get(LWS_NAME_LABEL) == meta["name"]:
            del state.objects[key]


def _lws_headless_service(state: ClusterState, lws: dict[str, Any]) -> None:
    meta = lws["metadata"]
    key = ("", "services", meta["namespace"], meta["name"])
    if key in state.objects:
        return  # upstream: created only if it does not exist; an existing Service is left as it is
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": meta["name"], "labels": {LWS_NAME_LABEL: meta["name"]}},
        "spec": {
            "clusterIP": "None",
            "selector": {LWS_NAME_LABEL: meta["name"]},
            "publishNotReadyAddresses": True,
        },
    }
    served = state.served[("", "v1", "services")]
    state._stamp_new(served, service, meta["namespace"], LWS_MANAGER, "Update")
    state.objects[key] = service
    state.writes.append(("create", "Service", meta["name"]))


def _allowed(gateway: dict[str, Any], route_namespace: str) -> bool:
    gateway_namespace = gateway["metadata"]["namespace"]
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        source = (((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from")) or "Same"
        if source == "All" or (source == "Same" and route_namespace == gateway_namespace):
            return True
    return False


def _backend_exists(state: ClusterState, namespace: str, ref: dict[str, Any]) -> bool:
    group, kind = ref.get("group") or "", ref.get("kind") or "Service"
    if group == "" and kind == "Service":
        return ("", "services", ref.get("namespace") or namespace, ref["name"]) in state.objects
    if group == INFERENCE_GROUP and kind == "InferencePool":
        return (INFERENCE_GROUP, "inferencepools", ref.get("namespace") or namespace, ref["name"]) in state.objects
    return False


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {
        "type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
        "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def _route_status(state: ClusterState, route: dict[str, Any]) -> None:
    namespace = route["metadata"]["namespace"]
    generation = int(route["metadata"].get("generation") or 1)
    backends = [b for rule in (route.get("spec") or {}).get("rules") or [] for b in rule.get("backendRefs") or []]
    resolved = all(_backend_exists(state, namespace, b) for b in backends)
    parents = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        gateway = state.objects.get((GATEWAY_GROUP, "gateways", ref.get("namespace") or namespace, ref["name"]))
        if gateway is None:
            continue
        accepted = _allowed(gateway, namespace)
        parents.append({
            "parentRef": copy.deepcopy(ref),
            "controllerName": "laneway.dev/fake-gateway-controller",
            "conditions": [
                _condition("Accepted", accepted, "Accepted" if accepted else "NotAllowedByListeners",
                           "" if accepted else "no listener allows routes from this namespace", generation),
                _condition("ResolvedRefs", resolved, "ResolvedRefs" if resolved else "BackendNotFound",
                           "" if resolved else "a backendRef does not exist", generation),
            ],
        })
    route["status"] = {"parents": parents}
    for b in backends:
        if b.get("kind") == "InferencePool" and parents and resolved:
            pool = state.objects.get((INFERENCE_GROUP, "inferencepools", b.get("namespace") or namespace, b["name"]))
            if pool is not None:
                pool["status"] = {"parents": [
                    {"parentRef": {"group": GATEWAY_GROUP, "kind": "Gateway", "name": p["parentRef"]["name"],
                                   "namespace": p["parentRef"].get("namespace") or namespace},
                     "conditions": copy.deepcopy(p["conditions"])} for p in parents
                ]}
