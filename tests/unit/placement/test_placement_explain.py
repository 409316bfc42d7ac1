"""Why a selector is false, in terms the ML team acts on: the value read and what was needed."""

import pytest

from laneway.api.kinds.platform import ClassDevice
from laneway.placement import plan
from laneway.placement.dra import DeviceMatcher, compile_selector, device_value
from laneway.placement.dra.explain import false_clause

from .placement_builders import cluster, deployment, gpu_class

DEVICE = ClassDevice.model_validate(
    {
        "name": "gpu",
        "driver": "gpu.nvidia.com",
        "deviceClassName": "gpu.nvidia.com",
        "count": 8,
        "attributes": {"productName": {"string": "H100"}, "driverVersion": {"version": "535.104.5"}},
        "capacity": {"memory": {"value": "80Gi"}},
    }
)
MEM = 'device.capacity["gpu.nvidia.com"].memory'


@pytest.mark.parametrize(
    ("source", "clause", "needs"),
    [
        (f'{MEM}.compareTo(quantity("141Gi")) >= 0', f'{MEM}.compareTo(quantity("141Gi")) >= 0', ">= 141Gi"),
        (f'{MEM}.compareTo(quantity("100Gi")) == 1', f'{MEM}.compareTo(quantity("100Gi")) == 1', "> 100Gi"),
        (f'{MEM}.compareTo(quantity("40Gi")) < 0', f'{MEM}.compareTo(quantity("40Gi")) < 0', "< 40Gi"),
        (f'{MEM}.isGreaterThan(quantity("100Gi"))', f'{MEM}.isGreaterThan(quantity("100Gi"))', "> 100Gi"),
        (f'{MEM}.isLessThan(quantity("1Gi"))', f'{MEM}.isLessThan(quantity("1Gi"))', "< 1Gi"),
        (
            'device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("550.0.0"))',
            'device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("550.0.0"))',
            "> 550.0.0",
        ),
        (
            'device.attributes["gpu.nvidia.com"].productName in ["A100", "H200"]',
            'device.attributes["gpu.nvidia.com"].productName in ["A100", "H200"]',
            'one of "A100", "H200"',
        ),
        ('"B200" == device.attributes["gpu.nvidia.com"].productName', None, '== "B200"'),
        ('device.attributes["gpu.nvidia.com"].productName.startsWith("A")', None, 'to start with "A"'),
        # the first false clause of a conjunction, through parentheses
        (
            f'device.driver == "gpu.nvidia.com" && ({MEM}.isGreaterThan(quantity("100Gi")) && true)',
            f'{MEM}.isGreaterThan(quantity("100Gi"))',
            "> 100Gi",
        ),
        # shapes with no plain "needs": the clause itself is the explanation
        ('size(device.attributes["gpu.nvidia.com"].productName) > 10', None, None),
        ('device.driver == "x" || device.driver == "y"', None, None),
        ('!(device.driver == "gpu.nvidia.com")', None, None),
    ],
)
def test_false_clause_and_what_it_needs(source, clause, needs):
    found = false_clause(compile_selector(source), device_value(DEVICE))
    assert found.text == (clause or source)
    assert found.needs == needs


def test_pool_reason_says_value_and_need():
    """The issue's example: `memory 80Gi, needs >= 141Gi`, per pool."""
    big = f'{MEM}.compareTo(quantity("141Gi")) >= 0'
    p = plan(
        deployment("m", selectors=['device.driver == "gpu.nvidia.com"', big]),
        clusters=[cluster("us-east-1", [("gpu-h100", "h100", 4)])],
        classes=[gpu_class("h100")],
        matcher=DeviceMatcher(),
    )
    assert p.condition.reason == "NoMatchingDevices"
    assert "selector 2 is false on device gpu (memory 80Gi, needs >= 141Gi)" in p.condition.message


def test_unknown_shape_shows_the_false_clause_and_values():
    p = plan(
        deployment("m", selectors=['size(device.attributes["gpu.nvidia.com"].productName) > 10']),
        clusters=[cluster("c", [("p", "h100", 4)])],
        classes=[gpu_class("h100")],
        matcher=DeviceMatcher(),
    )
    assert 'selector 1 is false on device gpu (productName H100): size(device.attributes["gpu.nvidia.com"].productName) > 10' in p.condition.message


def test_explanations_are_worked_out_only_when_read():
    """Matching alone never builds the explanation (it evaluates every device of the class)."""
    from laneway.placement.fleet import class_view
    from laneway.placement.matching import EngineSpec, Mismatch, match_engine

    matcher = DeviceMatcher()
    spec = EngineSpec.of(deployment("m", selectors=[f'{MEM}.compareTo(quantity("141Gi")) >= 0']).spec.template.spec.engines[0])
    miss = match_engine(spec, class_view(gpu_class("h100")), matcher)
    assert isinstance(miss, Mismatch)
    before = matcher.evaluations
    assert "needs >= 141Gi" in miss.message
    assert miss.message is miss.message  # worked out once
    assert matcher.evaluations == before, "explaining reuses evaluations, it does not redo matching"
