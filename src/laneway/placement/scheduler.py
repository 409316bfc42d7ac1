"""`plan` and `plan_fleet`: the fleet scheduler as pure functions of observed state.

Per deployment: retain what runs (while its cluster exists, still selects it, has no
untolerated NoExecute taint, and the pinned pools still meet the selectors), scale down from
the most loaded cluster at the highest index, then fill one replica at a time onto the eligible
cluster holding the fewest replicas of this deployment (ties by name), at the lowest free
index. Within a cluster, engines are assigned to pools by a bounded backtracking search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from laneway.api.kinds.deployment import ModelDeployment, ModelReplica, Toleration
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.meta import ObjectKey
from laneway.api.selectors import Requirement
from laneway.placement.capacity import PoolCapacity
from laneway.placement.dra.matcher import DEFAULT_MATCHER, DeviceMatcher
from laneway.placement.existing import ExistingReplica, existing_replica
from laneway.placement.fleet import ClusterView, Fleet, PoolView
from laneway.placement.gc_pause import collection_paused
from laneway.placement.matching import EngineFit, EngineSpec, Mismatch, compile_errors, match_engine
from laneway.placement.model import (
    EnginePlacement,
    MemberPlacement,
    Placement,
    Reason,
    ReplicaPlacement,
    ScheduledCondition,
)

SEARCH_STEP_LIMIT = 10_000
"""Pool assignments tried per cluster before it is declared unfit (engines x pools is small)."""
MAX_REASONS = 20


class Usage:
    """Free capacity per (cluster, pool), created on first touch from the pool's published size."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.pools: dict[tuple[str, str], PoolCapacity] = {}

    def get(self, cluster: ClusterView, pool: PoolView) -> PoolCapacity:
        key = (cluster.name, pool.name)
        cap = self.pools.get(key)
        if cap is None:
            per_node = pool.cls.per_node if pool.cls else {}
            cap = self.pools[key] = PoolCapacity(nodes=pool.nodes, per_node=per_node, accounting=pool.accounting)
        return cap

    def charge(self, replica: ExistingReplica) -> None:
        cluster = self.fleet.by_name.get(replica.cluster)
        if cluster is None:
            return
        for pool_name, pods in replica.usage:
            pool = cluster.pool(pool_name)
            if pool is not None:
                self.get(cluster, pool).take(pods, force=True)


@dataclass
class _Deployment:
    """One deployment's inputs, prepared once."""

    obj: ModelDeployment
    key: ObjectKey
    engines: tuple[EngineSpec, ...]
    requirements: list[Requirement]
    tolerations: list[Toleration]
    closed: Mapping[str, str] = field(default_factory=dict)
    """Clusters that take no new replica of this deployment, with why (they keep running ones)."""

    @property
    def selection_key(self) -> tuple[object, ...]:
        """What cluster eligibility depends on, besides the cluster: deployments that share it
        share the answer."""
        return (tuple(self.requirements), tuple((t.key, t.operator, t.value, t.effect) for t in self.tolerations))


def _tolerated(tolerations: Sequence[Toleration], key: str, value: str, effect: str) -> bool:
    return any(t.tolerates(key, value, effect) for t in tolerations)


def _selected(d: _Deployment, cluster: ClusterView) -> list[Requirement]:
    labels = dict(cluster.labels)
    return [r for r in d.requirements if not r.matches(labels)]


def _ineligibility(d: _Deployment, cluster: ClusterView) -> str | None:
    """Why a cluster takes no new replica of this deployment, or None when it may."""
    closed = d.closed.get(cluster.name)
    return closed if closed is not None else _profile_ineligibility(d, cluster)


def _profile_ineligibility(d: _Deployment, cluster: ClusterView) -> str | None:
    """Why a cluster takes no new replica, from what its profile holds (labels, taints,
    readiness, gateway) and the deployment's selector and tolerations; None when it may."""
    failing = _selected(d, cluster)
    if failing:
        return f"not selected ({', '.join(r.describe() for r in failing)} wanted)"
    untolerated = [t for t in cluster.taints if not _tolerated(d.tolerations, t.key, t.value, t.effect)]
    if untolerated:
        return f"tainted {', '.join(t.describe() for t in untolerated)} (add a toleration to place here)"
    if not cluster.ready:
        return "not Ready"
    if not cluster.has_gateway:
        return "has no gateway address yet"
    return None


def _retainable(d: _Deployment, r: ExistingReplica, fleet: Fleet, matcher: DeviceMatcher, check_pools: bool) -> tuple[EnginePlacement, ...] | None:
    cluster = fleet.by_name.get(r.cluster)
    if cluster is None or _selected(d, cluster):
        return None
    if any(t.effect == "NoExecute" and not _tolerated(d.tolerations, t.key, t.value, t.effect) for t in cluster.taints):
        return None
    if not check_pools:
        return r.engines
    engines = []
    for spec in d.engines:
        pool_name = r.pool_of(spec.name)
        pool = cluster.pool(pool_name) if pool_name else None
        if pool is None or pool.cls is None:
            return None
        fit = match_engine(spec, pool.cls, matcher)
        if not isinstance(fit, EngineFit):
            return None
        engines.append(_engine_placement(spec, pool.name, fit))
    return tuple(engines)


def _engine_placement(spec: EngineSpec, pool: str, fit: EngineFit) -> EnginePlacement:
    return EnginePlacement(
        spec.name, pool, tuple(MemberPlacement(m.role, pool, f.claims) for m, f in zip(spec.members, fit.members))
    )


def _scale_down(kept: list[ReplicaPlacement], wanted: int) -> tuple[list[ReplicaPlacement], list[int]]:
    removed = []
    while len(kept) > wanted:
        load: dict[str, int] = {}
        for r in kept:
            load[r.cluster] = load.get(r.cluster, 0) + 1
        most = max(load.values())
        victim = max((r for r in kept if load[r.cluster] == most), key=lambda r: r.index)
        kept.remove(victim)
        removed.append(victim.index)
    return kept, removed


def _candidates(d: _Deployment, cluster: ClusterView, matcher: DeviceMatcher) -> list[list[tuple[PoolView, EngineFit]]] | None:
    """Per engine, the cluster's pools whose class meets it; None when some engine has none."""
    out = []
    for spec in d.engines:
        fits = []
        for pool in cluster.pools:
            if pool.cls is not None:
                m = match_engine(spec, pool.cls, matcher)
                if isinstance(m, EngineFit):
                    fits.append((pool, m))
        if not fits:
            return None
        out.append(fits)
    return out


def _fit_cluster(d: _Deployment, cluster: ClusterView, usage: Usage, matcher: DeviceMatcher) -> tuple[EnginePlacement, ...] | None:
    """Assign every engine to one pool with room, searching past the first choice; commit it."""
    candidates = _candidates(d, cluster, matcher)
    if candidates is None:
        return None
    if len(d.engines) == 1:  # the common case needs no search and no copies
        spec = d.engines[0]
        for pool, fit in candidates[0]:
            if usage.get(cluster, pool).take(fit.pods(spec.copies, spec.members)):
                return (_engine_placement(spec, pool.name, fit),)
        return None
    steps = 0

    def search(i: int, caps: dict[str, PoolCapacity]) -> list[EnginePlacement] | None:
        nonlocal steps
        if i == len(d.engines):
            return []
        spec = d.engines[i]
        for pool, fit in candidates[i]:
            steps += 1
            if steps > SEARCH_STEP_LIMIT:
                return None
            cap = (caps.get(pool.name) or usage.get(cluster, pool)).copy()
            if not cap.take(fit.pods(spec.copies, spec.members)):
                continue
            rest = search(i + 1, {**caps, pool.name: cap})
            if rest is not None:
                return [_engine_placement(spec, pool.name, fit), *rest]
        return None

    found = search(0, {})
    if found is None:
        return None
    _commit(d, cluster, found, candidates, usage)
    return tuple(found)


def _explain_cluster(d: _Deployment, cluster: ClusterView, usage: Usage, matcher: DeviceMatcher) -> list[Reason]:
    """Why an eligible cluster cannot take a replica now: per pool, a selector or capacity reason."""
    reasons: list[Reason] = []
    if not cluster.pools:
        return [Reason("has no node pools", (cluster.name,))]
    multi = len(d.engines) > 1
    for spec in d.engines:
        where = f"engine {spec.name} " if multi else ""
        for pool in cluster.pools:
            if pool.cls is None:
                reasons.append(Reason(f"class {pool.class_name} is not published", (cluster.name,), pool.name))
                continue
            m = match_engine(spec, pool.cls, matcher)
            if not isinstance(m, EngineFit):
                reasons.append(Reason((f"engine {spec.name}: " if multi else "") + m.message, (cluster.name,), pool.name))
                continue
            pods = [p for p in m.pods(spec.copies, spec.members) if p]
            cap = usage.get(cluster, pool)
            if cap.copy().take(pods):
                msg = f"{where}fits alone, but not together with the other engines"
            elif cap.accounting == "Device":
                msg = f"{where}needs room for {len(pods)} pods by device, {cap.describe_free()}"
            else:
                msg = f"{where}needs {len(pods)} free node{'s' if len(pods) != 1 else ''}, {cap.describe_free()}"
            reasons.append(Reason(msg, (cluster.name,), pool.name))
    return reasons


def _commit(d: _Deployment, cluster: ClusterView, found: list[EnginePlacement], candidates: list[list[tuple[PoolView, EngineFit]]], usage: Usage) -> None:
    for spec, engine, fits in zip(d.engines, found, candidates):
        for pool, fit in fits:
            if pool.name == engine.pool:
                usage.get(cluster, pool).take(fit.pods(spec.copies, spec.members), force=True)
                break


def _group(reasons: list[Reason]) -> tuple[Reason, ...]:
    """Merge reasons that say the same thing about different clusters, keeping first-seen order."""
    merged: dict[tuple[str, str | None], list[str]] = {}
    for r in reasons:
        names = merged.setdefault((r.message, r.pool), [])
        for c in r.clusters:
            if c not in names:
                names.append(c)
    out = [Reason(msg, tuple(names), pool) for (msg, pool), names in merged.items()]
    return tuple(out[:MAX_REASONS]) + ((Reason(f"... and {len(out) - MAX_REASONS} more reasons"),) if len(out) > MAX_REASONS else ())


Ineligible = list[tuple[str, tuple[ClusterView, ...]]]


class Eligibility:
    """Which clusters take new replicas, per cluster selector and tolerations, for one plan.

    Clusters that look alike (a profile) are judged once, and deployments that select alike
    share the answer, so a re-plan of thousands of deployments over a thousand clusters judges a
    few hundred (selection, profile) pairs rather than millions of (deployment, cluster) ones."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._answers: dict[tuple[object, ...], tuple[tuple[ClusterView, ...], Ineligible]] = {}

    def of(self, d: _Deployment) -> tuple[tuple[ClusterView, ...], Ineligible]:
        """Eligible clusters by name, and the ineligible ones grouped by reason."""
        key = d.selection_key
        answer = self._answers.get(key)
        if answer is None:
            ok = []
            ineligible: Ineligible = []
            for _, members in self.fleet.profiles:
                why = _profile_ineligibility(d, members[0])
                ok.append(why is None)
                if why is not None:
                    ineligible.append((why, members))
            profile_of = self.fleet.profile_of
            answer = self._answers[key] = (tuple(c for c in self.fleet.clusters if ok[profile_of[c.name]]), ineligible)
        if not d.closed:
            return answer
        eligible, ineligible = answer
        closed: dict[str, list[ClusterView]] = {}
        for c in eligible:
            why = d.closed.get(c.name)
            if why is not None:
                closed.setdefault(why, []).append(c)
        return tuple(c for c in eligible if c.name not in d.closed), [*ineligible, *((w, tuple(cs)) for w, cs in closed.items())]


def _fill(
    d: _Deployment, kept: list[ReplicaPlacement], wanted: int, fleet: Fleet, usage: Usage, matcher: DeviceMatcher, eligibility: Eligibility
) -> tuple[list[ReplicaPlacement], list[Reason], bool]:
    reasons: list[Reason] = []
    placed = list(kept)
    if len(placed) >= wanted:
        return placed, reasons, True
    eligible, ineligible = eligibility.of(d)
    fresh = iter(eligible)
    count: dict[str, int] = {}
    for r in placed:
        count[r.cluster] = count.get(r.cluster, 0) + 1
    unfit: set[str] = set()
    any_eligible = False
    used = {r.index for r in placed}
    next_index = 0
    while len(placed) < wanted:
        while next_index in used:
            next_index += 1
        spot = None
        # clusters with none of this deployment come first, by name; fresh is consumed once
        for cluster in fresh:
            any_eligible = True
            if cluster.name in count or cluster.name in unfit:
                continue
            result = _fit_cluster(d, cluster, usage, matcher)
            if result is not None:
                spot = (cluster, result)
                break
            unfit.add(cluster.name)
        if spot is None:
            for name in sorted((n for n in count if n not in unfit), key=lambda n: (count[n], n)):
                cluster = fleet.by_name[name]
                if _ineligibility(d, cluster) is not None:
                    continue
                any_eligible = True
                result = _fit_cluster(d, cluster, usage, matcher)
                if result is not None:
                    spot = (cluster, result)
                    break
                unfit.add(name)
        if spot is None:
            break
        cluster, engines = spot
        placed.append(ReplicaPlacement(next_index, cluster.name, engines))
        used.add(next_index)
        count[cluster.name] = count.get(cluster.name, 0) + 1
    if len(placed) < wanted:
        for name in sorted(unfit):
            reasons.extend(_explain_cluster(d, fleet.by_name[name], usage, matcher))
        reasons = [Reason(why, tuple(c.name for c in members)) for why, members in ineligible] + reasons
    return placed, reasons, any_eligible


def _prepare(obj: ModelDeployment, closed: Mapping[str, str]) -> _Deployment:
    spec = obj.spec.template.spec
    return _Deployment(
        obj=obj,
        key=obj.key,
        engines=tuple(EngineSpec.of(e) for e in spec.engines),
        requirements=spec.cluster_selector.requirements(),
        tolerations=list(spec.tolerations),
        closed=dict(closed),
    )


def _matches_nothing(d: _Deployment, fleet: Fleet, matcher: DeviceMatcher) -> list[Reason]:
    """Engines no published class in use by any pool can meet: the 'matches nothing' bad edit."""
    reasons = []
    for spec in d.engines:
        misses: list[tuple[str, Mismatch]] = []
        for name in fleet.used_classes:
            cls = fleet.classes.get(name)
            if cls is None:
                continue
            m = match_engine(spec, cls, matcher)
            if isinstance(m, EngineFit):
                break
            misses.append((name, m))
        else:
            prefix = f"engine {spec.name}: " if len(d.engines) > 1 else ""
            reasons.extend(Reason(f"{prefix}class {name}: {m.message}") for name, m in misses)
            if not misses:
                reasons.append(Reason(prefix + "no node pool is published in the fleet"))
    return reasons


def plan_fleet(
    deployments: Sequence[ModelDeployment],
    *,
    clusters: Sequence[InferenceCluster],
    classes: Sequence[InferenceClass],
    replicas: Sequence[ModelReplica] = (),
    matcher: DeviceMatcher = DEFAULT_MATCHER,
    fleet: Fleet | None = None,
    closed: Mapping[ObjectKey, Mapping[str, str]] | None = None,
) -> list[Placement]:
    """Plan every deployment against one fleet. Existing replicas of every deployment (and of
    deployments not given, which keep their capacity) are charged first; then deployments fill
    in (namespace, name) order, each seeing the capacity the ones before it took.

    `closed` names, per deployment, clusters that take no new replica of it, with the reason
    the explanation gives (a ModelCache not staged there): unlike a cluster left out of the
    input, a closed cluster keeps the replicas already running on it."""
    with collection_paused():
        return _plan_fleet(deployments, clusters=clusters, classes=classes, replicas=replicas, matcher=matcher, fleet=fleet, closed=closed)


def _plan_fleet(
    deployments: Sequence[ModelDeployment],
    *,
    clusters: Sequence[InferenceCluster],
    classes: Sequence[InferenceClass],
    replicas: Sequence[ModelReplica],
    matcher: DeviceMatcher,
    fleet: Fleet | None,
    closed: Mapping[ObjectKey, Mapping[str, str]] | None,
) -> list[Placement]:
    fleet = fleet or Fleet.build(clusters, classes)
    closed = closed or {}
    prepared = sorted((_prepare(d, closed.get(d.key, {})) for d in deployments), key=lambda d: d.key)
    keys = {d.key for d in prepared}
    existing = [existing_replica(r, fleet, matcher) for r in replicas]
    usage = Usage(fleet)
    mine: dict[ObjectKey, list[ExistingReplica]] = {k: [] for k in keys}
    for r in existing:
        if r.deployment in keys:
            mine[r.deployment].append(r)  # type: ignore[index]
        else:
            usage.charge(r)

    states = []
    for d in prepared:
        invalid = compile_errors(d.engines, matcher)
        nothing = [] if invalid else _matches_nothing(d, fleet, matcher)
        bad_edit = bool(invalid or nothing)
        kept: list[ReplicaPlacement] = []
        seen: set[int] = set()
        by_index: dict[int, ExistingReplica] = {}
        for r in sorted(mine[d.key], key=lambda r: (r.index is None, r.index or 0, r.name)):
            if r.index is None or r.index in seen:
                continue
            engines = _retainable(d, r, fleet, matcher, check_pools=not bad_edit)
            if engines is not None:
                seen.add(r.index)
                by_index[r.index] = r
                kept.append(ReplicaPlacement(r.index, r.cluster, engines, retained=True))
        kept, removed = _scale_down(kept, d.obj.spec.replicas)
        for r in kept:
            usage.charge(by_index[r.index])
        removed += sorted(
            r.index for r in mine[d.key] if r.index is not None and r.index not in {k.index for k in kept} and r.index not in removed
        )
        states.append((d, invalid, nothing, kept, sorted(set(removed))))

    out = []
    eligibility = Eligibility(fleet)
    for d, invalid, nothing, kept, removed in states:
        wanted = d.obj.spec.replicas
        if invalid:
            n = len(kept)
            cond = ScheduledCondition("False", "InvalidNodeSelector", "; ".join(invalid) + f" ({n} running replica{'s' if n != 1 else ''} kept)")
            out.append(Placement(d.key, wanted, tuple(kept), tuple(removed), cond, tuple(Reason(p) for p in invalid)))
            continue
        if nothing:
            n = len(kept)
            grouped = _group(nothing)
            cond = ScheduledCondition(
                "False", "NoMatchingDevices",
                f"no published class meets the device requests ({n} running replica{'s' if n != 1 else ''} kept): " + grouped[0].text(),
            )
            out.append(Placement(d.key, wanted, tuple(kept), tuple(removed), cond, grouped))
            continue
        placed, reasons, any_eligible = _fill(d, kept, wanted, fleet, usage, matcher, eligibility)
        placed.sort(key=lambda r: r.index)
        if len(placed) >= wanted:
            cond = ScheduledCondition("True", "Scheduled", f"{len(placed)} of {wanted} replicas placed")
            out.append(Placement(d.key, wanted, tuple(placed), tuple(removed), cond))
            continue
        grouped = _group(reasons)
        summary = "; ".join(r.text() for r in grouped[:3])
        if not any_eligible:
            cond = ScheduledCondition("False", "NoClusters", f"{len(placed)} of {wanted} replicas placed; no cluster is eligible: {summary}")
        else:
            cond = ScheduledCondition("False", "InsufficientCapacity", f"{len(placed)} of {wanted} replicas placed: {summary}")
        out.append(Placement(d.key, wanted, tuple(placed), tuple(removed), cond, grouped))
    return out


def plan(
    deployment: ModelDeployment,
    *,
    clusters: Sequence[InferenceCluster],
    classes: Sequence[InferenceClass],
    replicas: Sequence[ModelReplica] = (),
    matcher: DeviceMatcher = DEFAULT_MATCHER,
    closed: Mapping[str, str] | None = None,
) -> Placement:
    """Plan one deployment. `replicas` are every ModelReplica in the fleet: the deployment's own
    are retained or dropped, everyone else's only take capacity. `closed` maps cluster names
    that take no new replica of it to why (see `plan_fleet`)."""
    return plan_fleet(
        [deployment], clusters=clusters, classes=classes, replicas=replicas, matcher=matcher, closed={deployment.key: closed or {}}
    )[0]
