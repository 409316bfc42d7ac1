"""`plan` and `plan_fleet`: the fleet scheduler as pure functions of observed state.

Per deployment: retain what runs (while its cluster exists, still selects it, has no
untolerated NoExecute taint, and the pinned pools still meet the selectors), scale down from
the most loaded cluster at the highest index, then fill one replica at a time onto the eligible
cluster holding the fewest replicas of this deployment (ties by name), at the lowest free
index. Within a cluster, engines are assigned to pools by a bounded backtracking search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from laneway.api.kinds.deployment import ModelDeployment, ModelReplica, Toleration
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.meta import ObjectKey
from laneway.api.selectors import Requirement
from laneway.placement.capacity import PoolCapacity
from laneway.placement.compose import replica_name
from laneway.placement.dra.matcher import DEFAULT_MATCHER, DeviceMatcher
from laneway.placement.engines import ContainerRequest, containers_of, refusal
from laneway.placement.existing import ExistingReplica, existing_replica
from laneway.placement.fleet import ClusterView, Fleet, PoolView
from laneway.placement.gc_pause import collection_paused
from laneway.placement.lost import replica_lost
from laneway.placement.matching import (
    EngineFit,
    EngineSpec,
    Mismatch,
    compile_errors,
    match_engine,
)
from laneway.placement.memo import PlanMemo
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
    containers: tuple[ContainerRequest, ...] = ()
    """What each member runs, which a Local cluster's allowed engines must cover."""
    closed: Mapping[str, str] = field(default_factory=dict)
    """Clusters that take no new replica of this deployment, with why (they keep running ones)."""

    @property
    def selection_key(self) -> tuple[object, ...]:
        """What cluster eligibility depends on, besides the cluster: deployments that share it
        share the answer."""
        return (tuple(self.requirements), tuple((t.key, t.operator, t.value, t.effect) for t in self.tolerations), self.containers)


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
    refused = refusal(d.containers, cluster.engines)
    if refused is not None:
        return f"does not run this engine: {refused}"
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
    if refusal(d.containers, cluster.engines) is not None:  # the cluster would not run it as it is now
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


def _scale_down(kept: list[ReplicaPlacement], wanted: int) -> tuple[list[ReplicaPlacement], list[ReplicaPlacement]]:
    """Drop replicas beyond `wanted`: first those a replacement stands in for (their cluster
    came back), then from the most loaded cluster, highest index first."""
    removed = []
    while len(kept) > wanted:
        replaced = {r.replaces for r in kept if r.replaces}
        superseded = [r for r in kept if r.name in replaced]
        if superseded:
            victim = max(superseded, key=lambda r: r.index)
        else:
            load: dict[str, int] = {}
            for r in kept:
                load[r.cluster] = load.get(r.cluster, 0) + 1
            most = max(load.values())
            victim = max((r for r in kept if load[r.cluster] == most), key=lambda r: r.index)
        kept.remove(victim)
        removed.append(victim)
    return kept, removed


class _Taken:
    """Replica indexes and object names a deployment already uses: a new replica (or one
    renumbered after an index collision) takes the lowest index whose canonical name
    `<deployment>-<index>` no input replica holds either, so creating it never collides."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        self.indexes: set[int] = set()
        self.names: set[str] = set()

    def add(self, index: int | None, name: str | None) -> None:
        if index is not None:
            self.indexes.add(index)
        if name:
            self.names.add(name)

    def own_index(self, name: str) -> int | None:
        """The free index whose canonical name is `name` (`m-3` -> 3), if there is one."""
        prefix = self.deployment + "-"
        rest = name[len(prefix):] if name.startswith(prefix) else ""
        if rest.isdigit() and str(int(rest)) == rest and int(rest) not in self.indexes:
            return int(rest)
        return None

    def free_from(self, start: int) -> int:
        i = start
        while i in self.indexes or replica_name(self.deployment, i) in self.names:
            i += 1
        return i


@dataclass
class _Retention:
    """What a deployment keeps of its input replicas, and what it drops, before filling in."""

    healthy: list[ReplicaPlacement]
    stranded: list[ReplicaPlacement]
    removed: list[tuple[int | None, str]]
    charged: list[ExistingReplica]
    taken: _Taken
    to_replace: list[str]

    @property
    def kept(self) -> list[ReplicaPlacement]:
        return sorted([*self.healthy, *self.stranded], key=lambda r: r.index)


def _on_lost(r: ExistingReplica, lost: frozenset[str]) -> bool:
    """On a lost cluster, or on a lost pool of machines (`placement.lost`)."""
    return replica_lost(r.cluster, (e.pool for e in r.engines), lost)


def _retain(
    d: _Deployment, inputs: list[ExistingReplica], fleet: Fleet, matcher: DeviceMatcher, *, check_pools: bool, lost: frozenset[str]
) -> _Retention:
    """Which input replicas stay, by object identity (never by the index label alone).

    Two replicas carrying one index (Modelplane numbers replicas per cluster) are both kept
    and both charged: the one whose name is `<deployment>-<index>` (else the first by cluster
    and name) keeps the index, the other takes the lowest free one. A replica with no index
    gets one the same way. Replicas on a lost cluster are stranded: kept, but not counted
    toward `replicas`, until a replacement is Ready or enough healthy ones are."""
    taken = _Taken(d.key.name)
    for r in inputs:
        taken.add(r.index, r.name)
    going = [r for r in inputs if r.terminating]
    inputs = [r for r in inputs if not r.terminating]

    def order(r: ExistingReplica) -> tuple[object, ...]:
        return (r.index is None, r.index or 0, r.name != replica_name(d.key.name, r.index or 0), r.cluster, r.name)

    retained: list[tuple[ExistingReplica, ReplicaPlacement]] = []
    renumber: list[tuple[ExistingReplica, tuple[EnginePlacement, ...]]] = []
    removed: list[tuple[int | None, str]] = [(r.index, r.name) for r in going]
    seen: set[int] = set()
    for r in sorted(inputs, key=order):
        engines = _retainable(d, r, fleet, matcher, check_pools)
        if engines is None:
            removed.append((r.index, r.name))
        elif r.index is None or r.index in seen:
            renumber.append((r, engines))
        else:
            seen.add(r.index)
            retained.append((r, ReplicaPlacement(r.index, r.cluster, engines, retained=True, name=r.name, replaces=r.replaces)))
    for r, engines in renumber:
        index = taken.own_index(r.name)
        if index is None:
            index = taken.free_from(0)
        taken.add(index, None)
        retained.append((r, ReplicaPlacement(index, r.cluster, engines, retained=True, name=r.name, replaces=r.replaces)))

    by_name = {p.name: r for r, p in retained}
    wanted = d.obj.spec.replicas
    healthy, scaled = _scale_down([p for r, p in retained if not _on_lost(r, lost)], wanted)
    removed += [(p.index, p.name) for p in scaled]
    ready = sum(1 for p in healthy if by_name[p.name].ready)
    replaced_ready = {by_name[p.name].replaces for p in healthy if by_name[p.name].ready}
    replaced = {p.replaces for p in healthy if p.replaces}
    stranded = []
    for _r, p in sorted(((r, p) for r, p in retained if _on_lost(r, lost)), key=lambda rp: rp[1].index):
        if p.name in replaced_ready or ready >= wanted:
            removed.append((p.index, p.name))
        else:
            stranded.append(p)
    return _Retention(
        healthy=healthy,
        stranded=stranded,
        removed=removed,
        charged=[*going, *(by_name[p.name] for p in [*healthy, *stranded])],
        taken=taken,
        to_replace=[p.name for p in stranded if p.name not in replaced],
    )



def _candidates(d: _Deployment, cluster: ClusterView, matcher: DeviceMatcher) -> list[list[tuple[PoolView, EngineFit]]] | None:
    """Per engine, the cluster's pools whose class meets it; None when some engine has none."""
    out = []
    for spec in d.engines:
        fits = []
        for pool in cluster.pools:
            if pool.cls is not None:
                m = match_engine(spec, pool.cls, matcher)
                if isinstance(m, EngineFit) and (m.claims_dra or not cluster.claims_dra):
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
            if cluster.claims_dra and not m.claims_dra:
                reasons.append(Reason(where + m.synthetic_only(), (cluster.name,), pool.name))
                continue
            pods = [p for p in m.pods(spec.copies, spec.members) if p]
            cap = usage.get(cluster, pool)
            if cap.copy().take(pods):
                msg = f"{where}fits alone, but not together with the other engines"
            elif cap.accounting == "Device":
                msg = f"{where}needs room for {len(pods)} pod{'' if len(pods) == 1 else 's'} by device, {cap.describe_free()}"
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
    d: _Deployment,
    kept: list[ReplicaPlacement],
    wanted: int,
    fleet: Fleet,
    usage: Usage,
    matcher: DeviceMatcher,
    eligibility: Eligibility,
    *,
    taken: _Taken,
    to_replace: list[str],
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
    pending = iter(to_replace)
    next_index = 0
    while len(placed) < wanted:
        next_index = taken.free_from(next_index)
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
        placed.append(
            ReplicaPlacement(next_index, cluster.name, engines, name=replica_name(d.key.name, next_index), replaces=next(pending, None))
        )
        taken.add(next_index, replica_name(d.key.name, next_index))
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
        containers=containers_of(spec.engines),
        closed=dict(closed),
    )


def _matches_nothing(d: _Deployment, fleet: Fleet, matcher: DeviceMatcher) -> list[Reason]:
    """Engines no published class in use by any pool can meet: the 'matches nothing' bad edit."""
    reasons: list[Reason] = []
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
    lost: frozenset[str] = frozenset(),
    memo: PlanMemo | None = None,
) -> list[Placement]:
    """Plan every deployment against one fleet. Existing replicas of every deployment (and of
    deployments not given, which keep their capacity) are charged first; then deployments fill
    in (namespace, name) order, each seeing the capacity the ones before it took.

    `closed` names, per deployment, clusters that take no new replica of it, with the reason
    the explanation gives (a ModelCache not staged there): unlike a cluster left out of the
    input, a closed cluster keeps the replicas already running on it.

    `lost` names clusters NotReady past their grace period (`laneway.placement.lost` works them
    out): a replica there is stranded; a replacement is placed elsewhere where capacity allows,
    and the stranded one is dropped once its replacement is Ready (or once enough healthy
    replicas are), or, should its cluster come back first, it is the one scale-down drops."""
    with collection_paused():
        return _plan_fleet(
            deployments,
            clusters=clusters,
            classes=classes,
            replicas=replicas,
            matcher=matcher,
            fleet=fleet,
            closed=closed,
            lost=lost,
            memo=memo,
        )


def _plan_fleet(
    deployments: Sequence[ModelDeployment],
    *,
    clusters: Sequence[InferenceCluster],
    classes: Sequence[InferenceClass],
    replicas: Sequence[ModelReplica],
    matcher: DeviceMatcher,
    fleet: Fleet | None,
    closed: Mapping[ObjectKey, Mapping[str, str]] | None,
    lost: frozenset[str],
    memo: PlanMemo | None,
) -> list[Placement]:
    fleet = fleet or (memo.fleet(clusters, classes) if memo is not None else Fleet.build(clusters, classes))
    closed = closed or {}
    prepared = sorted((_prepare(d, closed.get(d.key, {})) for d in deployments), key=lambda d: d.key)
    keys = {d.key for d in prepared}
    existing = memo.existing(replicas, fleet, matcher) if memo is not None else [existing_replica(r, fleet, matcher) for r in replicas]
    usage = Usage(fleet)
    mine: dict[ObjectKey, list[ExistingReplica]] = {k: [] for k in keys}
    for r in existing:
        if r.deployment is not None and r.deployment in keys:
            mine[r.deployment].append(r)
        else:
            usage.charge(r)

    states = []
    for d in prepared:
        invalid = compile_errors(d.engines, matcher)
        nothing = [] if invalid else _matches_nothing(d, fleet, matcher)
        bad_edit = bool(invalid or nothing)
        retention = _retain(d, mine[d.key], fleet, matcher, check_pools=not bad_edit, lost=lost)
        for r in retention.charged:
            usage.charge(r)
        states.append((d, invalid, nothing, retention))

    out = []
    eligibility = Eligibility(fleet)
    for d, invalid, nothing, kept in states:
        out.append(_decide(d, invalid, nothing, kept, fleet, usage, matcher, eligibility))
    return out


def _decide(
    d: _Deployment,
    invalid: list[str],
    nothing: list[Reason],
    retention: _Retention,
    fleet: Fleet,
    usage: Usage,
    matcher: DeviceMatcher,
    eligibility: Eligibility,
) -> Placement:
    wanted = d.obj.spec.replicas
    removed = sorted(retention.removed, key=lambda ir: (ir[0] is None, ir[0] or 0, ir[1]))

    def answer(replicas: Sequence[ReplicaPlacement], cond: ScheduledCondition, reasons: tuple[Reason, ...] = ()) -> Placement:
        return Placement(
            d.key,
            wanted,
            tuple(replicas),
            tuple(i for i, _ in removed if i is not None),
            cond,
            reasons,
            removed_names=tuple(n for _, n in removed),
            stranded=tuple(p.name for p in retention.stranded),
        )

    if invalid or nothing:
        kept = retention.kept
        n = len(kept)
        if invalid:
            cond = ScheduledCondition("False", "InvalidNodeSelector", "; ".join(invalid) + f" ({n} running replica{'s' if n != 1 else ''} kept)")
            return answer(kept, cond, tuple(Reason(p) for p in invalid))
        grouped = _group(nothing)
        cond = ScheduledCondition(
            "False", "NoMatchingDevices",
            f"no published class meets the device requests ({n} running replica{'s' if n != 1 else ''} kept): " + grouped[0].text(),
        )
        return answer(kept, cond, grouped)
    placed, reasons, any_eligible = _fill(
        d, retention.healthy, wanted, fleet, usage, matcher, eligibility, taken=retention.taken, to_replace=retention.to_replace
    )
    everything = tuple(sorted([*placed, *retention.stranded], key=lambda r: r.index))
    note = ""
    if retention.stranded:
        k = len(retention.stranded)
        note = f"; {k} replica{'s' if k != 1 else ''} on a lost cluster kept until {'their' if k != 1 else 'its'} replacement is Ready"
    if len(placed) >= wanted:
        return answer(everything, ScheduledCondition("True", "Scheduled", f"{len(placed)} of {wanted} replicas placed{note}"))
    grouped = _group(reasons)
    summary = "; ".join(r.text() for r in grouped[:3])
    if not any_eligible:
        cond = ScheduledCondition("False", "NoClusters", f"{len(placed)} of {wanted} replicas placed{note}; no cluster is eligible: {summary}")
    else:
        cond = ScheduledCondition("False", "InsufficientCapacity", f"{len(placed)} of {wanted} replicas placed{note}: {summary}")
    return answer(everything, cond, grouped)


def plan(
    deployment: ModelDeployment,
    *,
    clusters: Sequence[InferenceCluster],
    classes: Sequence[InferenceClass],
    replicas: Sequence[ModelReplica] = (),
    matcher: DeviceMatcher = DEFAULT_MATCHER,
    closed: Mapping[str, str] | None = None,
    lost: frozenset[str] = frozenset(),
) -> Placement:
    """Plan one deployment. `replicas` are every ModelReplica in the fleet: the deployment's own
    are retained or dropped, everyone else's only take capacity. `closed` maps cluster names
    that take no new replica of it to why (see `plan_fleet`)."""
    return plan_fleet(
        [deployment], clusters=clusters, classes=classes, replicas=replicas, matcher=matcher, closed={deployment.key: closed or {}}, lost=lost
    )[0]
