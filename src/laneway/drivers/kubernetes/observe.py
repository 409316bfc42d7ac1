"""What a replica's objects on its cluster say about it: pure, from a snapshot to an observation.

The driver reads a `Snapshot` (the replica's workloads, pods, resource claims, routes and
InferencePool, and the cluster's gateway address) and `summarize` turns it into the
`ReplicaObservation` the ModelReplica controller writes as the Ready condition. Reasons, in
the order checked:

- `NotApplied`: a workload, a route or the InferencePool is not on the cluster (yet);
- `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, `CreateContainerConfigError`, ...:
  a pod's engine container cannot start (the kubelet's own reason and message);
- `ResourceClaimNotAllocated`: a pod waits for a ResourceClaim no device was allocated to
  (no node of the pool has the devices the member asks for free);
- `Unschedulable`: the scheduler cannot place a pod (its message says why);
- `EnginesStarting`: workloads exist but not every copy is ready (for PrefillDecode, the
  endpoint picker's Deployment counts as one of them);
- `RouteNotAccepted`: a route is not accepted by the cluster's Gateway: refused
  (`Accepted=False` or `ResolvedRefs=False`), or not yet attached at all (no entry for the
  Gateway in `status.parents`: the Gateway API says such a route is not attached, so an empty
  status is never read as accepted);
- `PoolNotAccepted`: the InferencePool is not accepted by the Gateway (same rules, on its
  `status.parents`);
- `NoGatewayAddress`: the cluster's Gateway has no address yet;
- `EnginesReady`: every Deployment is Available with all copies ready, every
  LeaderWorkerSet has all groups ready, and every route (and the pool) is accepted. There is
  one address per route: `<gateway>/<namespace>/<replica>[/<engine>]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.labels import ENGINE_LABEL
from laneway.drivers.base import MemberObservation, MemberPhase, ReplicaObservation, ServingAddress
from laneway.drivers.kubernetes.naming import GatewayRef, WorkloadKind, picker_name, route_targets, workload_of

Obj = Mapping[str, Any]
_CONTAINER_FAILURES = (
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
    "CreateContainerError", "InvalidImageName", "RunContainerError",
)


@dataclass(frozen=True)
class ExpectedWorkload:
    engine: str
    kind: WorkloadKind
    name: str
    copies: int


def expected_workloads(replica: ModelReplica, *, stack: str = "Standard") -> list[ExpectedWorkload]:
    """The workloads `render` makes for this replica on a cluster of `stack` (names follow `naming`)."""
    out = []
    for engine in replica.spec.engines:
        kind, name = workload_of(replica, engine, stack=stack)
        out.append(ExpectedWorkload(engine.name, kind, name, engine.copies))
    if replica.spec.serving.mode == "PrefillDecode":
        out.append(ExpectedWorkload("epp", "Deployment", picker_name(replica), 1))
    return out


@dataclass(frozen=True)
class Snapshot:
    workloads: Mapping[str, Obj] = field(default_factory=dict)  # by name
    pods: tuple[Obj, ...] = ()
    claims: tuple[Obj, ...] = ()
    routes: Mapping[str, Obj] = field(default_factory=dict)  # by name
    pool: Obj | None = None  # the InferencePool of a PrefillDecode replica
    gateway: GatewayRef = field(default_factory=GatewayRef)
    gateway_address: str | None = None
    stack: str = "Standard"  # the cluster's serving stack: which workload kinds were rendered


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def workload_ready(expected: ExpectedWorkload, obj: Obj) -> tuple[bool, str]:
    """Whether a Deployment / LeaderWorkerSet / PodCliqueSet serves all its copies, and its
    progress in words. A PodCliqueSet counts available groups (`availableReplicas`: every
    clique of the group has its pods ready)."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation", 0)
    ready = int(status.get("availableReplicas" if expected.kind == "PodCliqueSet" else "readyReplicas") or 0)
    progress = f"{expected.kind} {expected.name}: {ready}/{expected.copies} ready"
    if int(status.get("observedGeneration") or 0) < int(generation or 0) and expected.kind in ("Deployment", "PodCliqueSet"):
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


def attachment_problem(what: str, obj: Obj, gateway: GatewayRef) -> str | None:
    """Why a route or pool is not accepted by the cluster's Gateway, or None when it is: an entry
    for the Gateway in `status.parents` with `Accepted=True` and no `ResolvedRefs=False`."""
    parents = [
        p for p in (obj.get("status") or {}).get("parents") or []
        if ((p.get("parentRef") or {}).get("name"), (p.get("parentRef") or {}).get("namespace", gateway.namespace))
        == (gateway.name, gateway.namespace)
    ]
    where = f"Gateway {gateway.namespace}/{gateway.name}"
    if not parents:
        return f"{what} is not attached to {where} yet (no status.parents entry for it; its implementation has not accepted the route)"
    for parent in parents:
        conditions = {str(c.get("type")): c for c in parent.get("conditions") or []}
        for kind in ("Accepted", "ResolvedRefs"):
            c = conditions.get(kind)
            if c is not None and c.get("status") == "False":
                return f"{where} reports {kind}=False for {what} ({c.get('reason')}): {c.get('message', '')}"
        if (conditions.get("Accepted") or {}).get("status") == "True":
            return None
    return f"{where} has not accepted {what} yet (Accepted is not True)"


def summarize(replica: ModelReplica, snapshot: Snapshot) -> ReplicaObservation:
    members = members_of(snapshot.pods)
    expected = expected_workloads(replica, stack=snapshot.stack)
    targets = route_targets(replica)
    missing = [f"{e.kind} {e.name}" for e in expected if e.name not in snapshot.workloads]
    missing += [f"HTTPRoute {t.name}" for t in targets if t.name not in snapshot.routes]
    pd = replica.spec.serving.mode == "PrefillDecode"
    if pd and snapshot.pool is None:
        missing.append("InferencePool")
    if missing:
        return ReplicaObservation(False, "NotApplied", f"not on the cluster yet: {', '.join(missing)}", members)
    progress = [workload_ready(e, snapshot.workloads[e.name]) for e in expected]
    if not all(ok for ok, _ in progress):
        problem = _pod_problem(snapshot.pods, snapshot.claims)
        if problem is not None:
            return ReplicaObservation(False, problem[0], problem[1], members)
        return ReplicaObservation(False, "EnginesStarting", "; ".join(text for ok, text in progress if not ok), members)
    for target in targets:
        route_problem = attachment_problem(f"HTTPRoute {target.name}", snapshot.routes[target.name], snapshot.gateway)
        if route_problem is not None:
            return ReplicaObservation(False, "RouteNotAccepted", route_problem, members)
    if pd and snapshot.pool is not None:
        pool_problem = attachment_problem("the InferencePool", snapshot.pool, snapshot.gateway)
        if pool_problem is not None:
            return ReplicaObservation(False, "PoolNotAccepted", pool_problem, members)
    if not snapshot.gateway_address:
        return ReplicaObservation(False, "NoGatewayAddress", "the cluster's Gateway has no address yet; see `laneway cluster check`", members)
    base = snapshot.gateway_address.rstrip("/")
    addresses = tuple(ServingAddress(engine=t.engine, copy=0, url=base + t.prefix, ready=True) for t in targets)
    return ReplicaObservation(True, "EnginesReady", "; ".join(text for _, text in progress), members, addresses)
