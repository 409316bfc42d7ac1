"""The hardware row against the published classes: which classes an answer matches.

A ticket names its hardware either as device requests in CEL (exactly what a deployment's
member `nodeSelector.devices` holds) or as a published InferenceClass by `className`. A class
name is resolved to requests that select that class's devices by their driver and published
attributes, so the composed deployment still never names a pool or cluster: the scheduler
places it wherever the same hardware is published.

Matching uses the scheduler's own matcher (`laneway.placement.matching.match_engine`), so
"matches class h100" here means what it means to `laneway plan`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from laneway.api.kinds.deployment import CelSelector, DeviceRequest, Engine
from laneway.api.kinds.platform import ClassDevice, InferenceClass
from laneway.placement import DEFAULT_MATCHER, DeviceMatcher
from laneway.placement.fleet import class_view
from laneway.placement.matching import EngineFit, EngineSpec, compile_errors, match_engine


def _cel_literal(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def device_selector(device: ClassDevice) -> str:
    """A CEL expression true on this class device: its driver and every string, int and bool
    attribute (versions are left out: equal versions are already implied by the product)."""
    parts = [f"device.driver == {_cel_literal(device.driver)}"]
    for key, attr in sorted(device.attributes.items()):
        if attr.version is not None:
            continue
        domain, sep, name = key.partition("/")
        if not sep:
            domain, name = device.driver, key
        if not name.isidentifier():
            continue
        parts.append(f"device.attributes[{_cel_literal(domain)}].{name} == {_cel_literal(attr.value())}")
    return " && ".join(parts)


def class_requests(cls: InferenceClass) -> list[DeviceRequest]:
    """Device requests that select a whole node of `cls`: every device, at its per-node count."""
    return [
        DeviceRequest(name=d.name, count=d.count, selectors=[CelSelector(cel=device_selector(d))]) for d in cls.spec.devices
    ]


@dataclass(frozen=True)
class ClassMatch:
    """The published classes a request set meets, and why each other class does not."""

    matching: tuple[str, ...]
    misses: tuple[tuple[str, str], ...]
    compile_problems: tuple[str, ...] = ()
    demands: tuple[tuple[str, Mapping[str, int]], ...] = ()
    """Per matching class, the class devices (by name) and counts one replica claims there."""


def engine_for(devices: Sequence[DeviceRequest]) -> Engine:
    """A one-member engine holding `devices`, the shape the scheduler matches."""
    return Engine.model_validate(
        {
            "name": "main",
            "members": [
                {
                    "role": "Standalone",
                    "nodeSelector": {"devices": [d.model_dump(by_alias=True) for d in devices]},
                    "template": {"spec": {"containers": [{"name": "engine", "image": "placeholder"}]}},
                }
            ],
        }
    )


def match_classes(
    devices: Sequence[DeviceRequest], classes: Sequence[InferenceClass], *, matcher: DeviceMatcher = DEFAULT_MATCHER
) -> ClassMatch:
    """Which published classes meet `devices` (pure; the scheduler's matcher decides)."""
    spec = EngineSpec.of(engine_for(devices))
    problems = compile_errors((spec,), matcher)
    if problems:
        return ClassMatch((), (), tuple(problems))
    matching: list[str] = []
    misses: list[tuple[str, str]] = []
    demands: list[tuple[str, Mapping[str, int]]] = []
    for cls in sorted(classes, key=lambda c: c.name):
        outcome = match_engine(spec, class_view(cls), matcher)
        if isinstance(outcome, EngineFit):
            matching.append(cls.name)
            demands.append((cls.name, dict(outcome.members[0].demand) if outcome.members else {}))
        else:
            misses.append((cls.name, outcome.message))
    return ClassMatch(tuple(matching), tuple(misses), demands=tuple(demands))
