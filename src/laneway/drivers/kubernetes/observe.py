"""What a replica's objects on its cluster say about it: pure, from a snapshot to an observation.

The driver reads a `Snapshot` (the replica's workloads, pods, resource claims and route, and
the cluster's gateway address) and `summarize` turns it into the `ReplicaObservation` the
ModelReplica controller writes as the Ready condition. Reasons, in the order checked:

- `NotApplied`: a workload or the route is not on the cluster (yet);
- `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, `CreateContainerConfigError`, ...:
  a pod's engine container cannot start (the kubelet's own reason and message);
- `ResourceClaimNotAllocated`: a pod waits for a ResourceClaim no device was allocated to
  (no node of the pool has the devices the member asks for free);
- `Unschedulable`: the scheduler cannot place a pod (its message says why);
- `EnginesStarting`: workloads exist but not every copy is ready;
- `RouteNotAccepted`: the Gateway refused the HTTPRoute;
- `NoGatewayAddress`: the cluster's Gateway has no address yet;
- `EnginesReady`: every Deployment is Available with all copies ready, every
  LeaderWorkerSet has all groups ready, and the route is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from laneway.api.kinds.deployment import ModelReplica
from laneway.drivers.base import MemberObservation, MemberPhase, ReplicaObservation, ServingAddress
from laneway.drivers.kubernetes.naming import ENGINE_LABEL, route_prefix, workload_name
from laneway.drivers.kubernetes.pods import is_serving

Obj = Mapping[str, Any]
_CONTAINER_FAILURES = (
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
    "CreateContainerError", "InvalidImageName", "RunContainerError",
)


@dataclass(frozen=True)
class ExpectedWorkload:
    engine: str
    kind: Literal["Deployment", "LeaderWorkerSet"]
    name: str
    copies: int


def expected_workloads(replica: ModelReplica) -> list[ExpectedWorkload]:
    """The workloads `render` makes for this replica (names follow `naming`)."""
    out = []
    for engine in replica.spec.engines:
        kind: Literal["Deployment", "LeaderWorkerSet"] = (
            "Deployment" if any(m.role == "Standalone" for m in engine.members) else "LeaderWorkerSet"
        )
        out.append(ExpectedWorkload(engine.name, kind, workload_name(replica, engine.name), engine.copies))
    return out


@dataclass(frozen=True)
class Snapshot:
    workloads: Mapping[str, Obj] = field(default_factory=dict)  # by name
    pods: tuple[Obj, ...] = ()
    claims: tuple[Obj, ...] = ()
    route: Obj | None = None
    gateway_address: str | None = None


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def workload_ready(expected: ExpectedWorkload, obj: Obj) -> tuple[bool, str]:
    """Whether a Deployment / LeaderWorkerSet serves all its copies, and its progress in words."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation", 0)
    ready = int(status.get("readyReplicas") or 0)
    progress = f"{expected.kind} {expected.name}: {ready}/{expected.copies} ready"
    if int(status.get("observedGeneration") or 0) < int(generation or 0) and expected.kind == "Deployment":
        return False, f"{expected.kind} {expected.name}: the rollout of generation {generation} has not been observed yet"
    if ready < expected.copies:
        return False, progress
    if expected.kind == "Deployment":
        available = _conditions(obj).get("Available")
        if available is None or available.get("status") != "True":
            return False, f"{progress}, not Available"
    return True, progress


def _pod_phase(pod: Obj) -> tuple[MemberPhase, bool, int, str]:
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _CONTAINER_FAILURES:
            return "CrashLoopBackOff", False, restarts, f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    ready = _conditions(pod).get("Ready", {}).get("status") == "True"
    if ready:
        return "Ready", True, restarts, ""
    phase = status.get("phase")
    if phase == "Running":
        return "Running", False, restarts, "running, not ready"
    if phase in ("Succeeded", "Failed"):
        return "Stopped", False, restarts, f"pod {str(phase).lower()}"
    return "Pending", False, restarts, str(_conditions(pod).get("PodScheduled", {}).get("message") or "")


def members_of(pods: tuple[Obj, ...]) -> tuple[MemberObservation, ...]:
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        phase, ready, restarts, message = _pod_phase(pod)
        out.append(
            MemberObservation(
                id=str(meta.get("name")),
                engine=str((meta.get("labels") or {}).get(ENGINE_LABEL, "")),
                phase=phase,
                ready=ready,
                restarts=restarts,
                message=message,
            )
        )
    return tuple(sorted(out, key=lambda m: m.id))


def _pod_problem(pods: tuple[Obj, ...], claims: tuple[Obj, ...]) -> tuple[str, str] | None:
    """The first reason a pod cannot run, as (reason, message)."""
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        name = (pod.get("metadata") or {}).get("name")
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (c.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _CONTAINER_FAILURES:
                return str(waiting["reason"]), f"pod {name}: container {c.get('name')}: {waiting.get('message') or waiting['reason']}"
    unallocated = sorted(
        str((c.get("metadata") or {}).get("name")) for c in claims if not (c.get("status") or {}).get("allocation")
    )
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        scheduled = _conditions(pod).get("PodScheduled")
        if scheduled is None or scheduled.get("status") != "False":
            continue
        name = (pod.get("metadata") or {}).get("name")
        message = str(scheduled.get("message") or scheduled.get("reason") or "")
        pod_claims = {str(s.get("resourceClaimName")) for s in ((pod.get("status") or {}).get("resourceClaimStatuses") or [])}
        waiting = [c for c in unallocated if c in pod_claims] or (unallocated if "resourceclaim" in message.lower() else [])
        if waiting:
            return (
                "ResourceClaimNotAllocated",
                f"pod {name} waits for ResourceClaim {', '.join(waiting)}, which no device was allocated to: {message} "
                "(check the pool's free devices with `laneway cluster check`)",
            )
        return "Unschedulable", f"pod {name}: {message}"
    return None


def _route_problem(route: Obj) -> str | None:
    for parent in (route.get("status") or {}).get("parents") or []:
        for c in parent.get("conditions") or []:
            if c.get("type") in ("Accepted", "ResolvedRefs") and c.get("status") == "False":
                ref = parent.get("parentRef") or {}
                return f"Gateway {ref.get('namespace', '')}/{ref.get('name', '')} reports {c.get('type')}=False ({c.get('reason')}): {c.get('message', '')}"
    return None


def summarize(replica: ModelReplica, snapshot: Snapshot) -> ReplicaObservation:
    members = members_of(snapshot.pods)
    expected = expected_workloads(replica)
    missing = [f"{e.kind} {e.name}" for e in expected if e.name not in snapshot.workloads]
    if snapshot.route is None:
        missing.append("HTTPRoute")
    if missing:
        return ReplicaObservation(False, "NotApplied", f"not on the cluster yet: {', '.join(missing)}", members)
    progress = [workload_ready(e, snapshot.workloads[e.name]) for e in expected]
    if not all(ok for ok, _ in progress):
        problem = _pod_problem(snapshot.pods, snapshot.claims)
        if problem is not None:
            return ReplicaObservation(False, problem[0], problem[1], members)
        return ReplicaObservation(False, "EnginesStarting", "; ".join(text for ok, text in progress if not ok), members)
    route_problem = _route_problem(snapshot.route)
    if route_problem is not None:
        return ReplicaObservation(False, "RouteNotAccepted", route_problem, members)
    if not snapshot.gateway_address:
        return ReplicaObservation(False, "NoGatewayAddress", "the cluster's Gateway has no address yet; see `laneway cluster check`", members)
    serving = next((e.name for e in replica.spec.engines if any(is_serving(m) for m in e.members)), replica.spec.engines[0].name)
    url = snapshot.gateway_address.rstrip("/") + route_prefix(replica)
    address = ServingAddress(engine=serving, copy=0, url=url, ready=True)
    return ReplicaObservation(True, "EnginesReady", "; ".join(text for _, text in progress), members, (address,))
