"""Which class devices meet an engine's device requests, and, when none does, why.

The requests of one member are met together, as DRA allocates them: each request takes
distinct devices from what the earlier requests of the same pod left on a node, so a class
that publishes its 8 GPUs as two entries of 4 meets a member asking 4 + 4 (one entry each).
A request may use a device entry whose every selector is true and that has enough left; the
search tries entries in published order, real (DRA) devices before Synthetic ones, and
backtracks when a later request finds nothing left (requests per member are few).

Every member of an engine must be met on the same class, since an engine lands on one pool.
`EngineFit.claims_dra` says whether any member ends up with a DRA claim: on a cluster whose
devices are claimed through DRA, an engine met by Synthetic devices alone would get no device
at all, and the scheduler refuses that pool. The answer for an (engine, class) pair is
memoized: it depends on nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from laneway.api.kinds.deployment import Engine
from laneway.api.kinds.platform import ClassDevice
from laneway.placement.capacity import PodDemand
from laneway.placement.dra.environment import CompileError
from laneway.placement.dra.matcher import DeviceMatcher
from laneway.placement.fleet import ClassView
from laneway.placement.model import DeviceClaim


@dataclass(frozen=True)
class RequestSpec:
    name: str
    count: int
    selectors: tuple[str, ...]


@dataclass(frozen=True)
class MemberSpec:
    role: str
    pods: int
    requests: tuple[RequestSpec, ...]


@dataclass(frozen=True)
class EngineSpec:
    name: str
    copies: int
    members: tuple[MemberSpec, ...]
    key: str = field(default="", compare=False, repr=False)
    """A digest of `members`, the part matching depends on: memo lookups hash this short string
    instead of the nested records on every (engine, class) pair of a re-plan."""

    def __post_init__(self) -> None:
        if not self.key:
            digest = hashlib.blake2b(repr(self.members).encode(), digest_size=16).hexdigest()
            object.__setattr__(self, "key", digest)

    @classmethod
    def of(cls, engine: Engine) -> EngineSpec:
        members = tuple(
            MemberSpec(
                m.role,
                m.pods,
                tuple(
                    RequestSpec(r.name, r.count, tuple(s.cel for s in r.selectors))
                    for r in (m.node_selector.devices if m.node_selector else [])
                ),
            )
            for m in engine.members
        )
        return cls(engine.name, engine.copies, members)


@dataclass(frozen=True)
class MemberFit:
    claims: tuple[DeviceClaim, ...]
    demand: PodDemand  # per pod; empty when the member requests no device


@dataclass(frozen=True)
class EngineFit:
    members: tuple[MemberFit, ...]

    @property
    def claims_dra(self) -> bool:
        """Whether any member claims a device through DRA (not only Synthetic ones)."""
        return any(m.claims for m in self.members)

    def synthetic_only(self) -> str:
        """What the engine's pods would hold on a DRA-claimed cluster: nothing claimable."""
        names = sorted({d for m in self.members for d in m.demand})
        return (
            f"only Synthetic devices ({', '.join(names)}) meet the device requests; this cluster claims devices "
            "through DRA, so the engine's pods would get no device (ask for a real device, or use a pool whose class "
            "publishes one that matches)"
        )

    def pods(self, copies: int, specs: tuple[MemberSpec, ...]) -> list[PodDemand]:
        """Every pod the engine's copies place on the pool, with its device demand."""
        out: list[PodDemand] = []
        for _ in range(copies):
            for fit, spec in zip(self.members, specs):
                out.extend([fit.demand] * spec.pods)
        return out


class Mismatch:
    """Why an engine does not fit a class. The message is worked out only when someone reads it:
    explaining evaluates every selector on every device of the class, and a re-plan mostly
    needs the yes/no answer."""

    __slots__ = ("_explain", "_message")

    def __init__(self, message: str | Callable[[], str]) -> None:
        self._explain = message if callable(message) else None
        self._message = message if isinstance(message, str) else None

    @property
    def message(self) -> str:
        if self._message is None:
            assert self._explain is not None
            self._message, self._explain = self._explain(), None
        return self._message

    def __repr__(self) -> str:
        return f"Mismatch({self.message!r})"


EngineMatch = EngineFit | Mismatch

_REF = re.compile(r"\.(attributes|capacity)(?:\[\s*['\"]([^'\"]+)['\"]\s*\]|\.([A-Za-z_][A-Za-z0-9_]*))\.([A-Za-z_][A-Za-z0-9_]*)")


def compile_errors(engines: tuple[EngineSpec, ...], matcher: DeviceMatcher) -> list[str]:
    """Every selector that does not compile, located so the author can find it."""
    problems = []
    for engine in engines:
        for mi, member in enumerate(engine.members):
            for request in member.requests:
                for si, source in enumerate(request.selectors):
                    program = matcher.compile(source)
                    if isinstance(program, CompileError):
                        problems.append(
                            f"engine {engine.name!r} member {mi + 1} ({member.role}) device {request.name!r} "
                            f"selector {si + 1} does not compile: {program}"
                        )
    return problems


def _values_read(source: str, device: ClassDevice) -> str:
    """The device values a selector reads, as `memory 80Gi`, so a false selector explains itself."""
    shown = []
    for kind, bracket, dotted, name in _REF.findall(source):
        domain = bracket or dotted
        key = name if domain == device.driver else f"{domain}/{name}"
        names = (key, name) if domain == device.driver else (key,)
        value: object = None
        if kind == "attributes":
            attribute = next((device.attributes[n] for n in names if n in device.attributes), None)
            value = attribute.value() if attribute is not None else None
        else:
            capacity = next((device.capacity[n] for n in names if n in device.capacity), None)
            value = capacity.value if capacity is not None else None
        shown.append(f"{name} not published" if value is None else f"{name} {value}")
    return ", ".join(dict.fromkeys(shown))


def _false_detail(source: str, device: ClassDevice, fingerprint: str, matcher: DeviceMatcher) -> str:
    """` (memory 80Gi, needs >= 141Gi)`, or the false clause itself when what it needs is not a
    plain comparison: ` (productName L4): size(...) > 10`."""
    clause = matcher.explain_false(source, device, fingerprint)
    text = clause.text if clause is not None else source
    values = _values_read(text, device)
    if clause is not None and clause.needs:
        return f" ({values + ', ' if values else ''}needs {clause.needs})"
    return (f" ({values})" if values else "") + f": {text}"


def _request_miss(request: RequestSpec, cls: ClassView, matcher: DeviceMatcher) -> str:
    why = []
    for device, fingerprint in cls.devices:
        if device.count < request.count:
            why.append(f"device {device.name} has {device.count} per node, {request.count} wanted")
            continue
        for si, source in enumerate(request.selectors):
            outcome = matcher.matches(source, device, fingerprint)
            if not outcome.matched:
                if outcome.error:
                    values = _values_read(source, device)
                    detail = f" ({values})" if values else ""
                    why.append(f"selector {si + 1} fails on device {device.name}{detail}: {outcome.error}")
                else:
                    why.append(f"selector {si + 1} is false on device {device.name}{_false_detail(source, device, fingerprint, matcher)}")
                break
    return f"device request {request.name!r}: " + "; ".join(why or ["the class has no devices"])


def match_engine(engine: EngineSpec, cls: ClassView, matcher: DeviceMatcher) -> EngineMatch:
    """Whether (and how) the engine's members are met on the class; memoized on the matcher."""
    if not matcher.cache:
        return _match_engine(engine, cls, matcher)
    key = (engine.key, cls.key)
    hit = matcher.engine_fits.get(key)
    if hit is None:
        hit = matcher.engine_fits.remember(key, _match_engine(engine, cls, matcher))
    return hit


def _member_options(request: RequestSpec, cls: ClassView, matcher: DeviceMatcher) -> list[ClassDevice]:
    """Device entries that meet one request on their own: selectors true and enough per node.
    Real (DRA) devices come first, then Synthetic ones, each in published order."""
    fit = [
        device
        for device, fingerprint in cls.devices
        if device.count >= request.count and all(matcher.matches(s, device, fingerprint).matched for s in request.selectors)
    ]
    return [d for d in fit if d.claim == "DRA"] + [d for d in fit if d.claim != "DRA"]


def _allocate(options: list[list[ClassDevice]], requests: tuple[RequestSpec, ...], per_node: dict[str, int]) -> list[ClassDevice] | None:
    """One device entry per request such that no entry is asked for more than a node has,
    searching depth first (as DRA's allocator does); None when no assignment exists."""
    left = dict(per_node)
    chosen: list[ClassDevice] = []

    def search(i: int) -> bool:
        if i == len(requests):
            return True
        need = requests[i].count
        for device in options[i]:
            if left[device.name] >= need:
                left[device.name] -= need
                chosen.append(device)
                if search(i + 1):
                    return True
                chosen.pop()
                left[device.name] += need
        return False

    return chosen if search(0) else None


def _together_miss(mi: int, member: MemberSpec, options: list[list[ClassDevice]], cls: ClassView) -> str:
    asked = ", ".join(f"{r.name!r} ({r.count})" for r in member.requests)
    offered = sorted({d.name for ds in options for d in ds})
    have = ", ".join(f"{name} {cls.per_node[name]}" for name in offered)
    return (
        f"member {mi + 1} ({member.role}) device requests {asked} cannot all be met on one node: each takes distinct "
        f"devices, and the entries that match have {have} per node"
    )


def _member_miss(mi: int, member: MemberSpec, request: RequestSpec, cls: ClassView, matcher: DeviceMatcher) -> str:
    return f"member {mi + 1} ({member.role}) {_request_miss(request, cls, matcher)}"


def _match_engine(engine: EngineSpec, cls: ClassView, matcher: DeviceMatcher) -> EngineMatch:
    fits = []
    for mi, member in enumerate(engine.members):
        options = []
        for request in member.requests:
            found = _member_options(request, cls, matcher)
            if not found:
                return Mismatch(partial(_member_miss, mi, member, request, cls, matcher))
            options.append(found)
        chosen = _allocate(options, member.requests, cls.per_node)
        if chosen is None:
            return Mismatch(_together_miss(mi, member, options, cls))
        claims: list[DeviceClaim] = []
        demand: dict[str, int] = {}
        for request, device in zip(member.requests, chosen):
            if device.claim == "DRA":
                claims.append(DeviceClaim(request.name, device.device_class_name or "", request.count, request.selectors))
            # A Synthetic device is not claimed through DRA, but the pod still occupies it.
            demand[device.name] = demand.get(device.name, 0) + request.count
        fits.append(MemberFit(tuple(claims), demand))
    return EngineFit(tuple(fits))
