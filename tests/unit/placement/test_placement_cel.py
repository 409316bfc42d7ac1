"""The DRA CEL surface: the device environment, quantity()/semver() and their methods, macros,
bounded evaluation, and that failures are non-matches."""

import pytest

from laneway.api.kinds.platform import ClassDevice
from laneway.placement.dra import DeviceMatcher, compile_selector, device_value, evaluate
from laneway.placement.dra.environment import CompileError

DEVICE = ClassDevice.model_validate(
    {
        "name": "gpu",
        "driver": "gpu.nvidia.com",
        "deviceClassName": "gpu.nvidia.com",
        "count": 8,
        "attributes": {
            "productName": {"string": "H100"},
            "driverVersion": {"version": "550.54.15"},
            "cudaCapable": {"bool": True},
            "numa.example.com/node": {"int": 1},
        },
        "capacity": {"memory": {"value": "80Gi"}, "numa.example.com/bandwidth": {"value": "1.5e3"}},
    }
)


def run(source: str) -> bool:
    return evaluate(compile_selector(source), device_value(DEVICE)).matched


@pytest.mark.parametrize(
    "source",
    [
        'device.driver == "gpu.nvidia.com"',
        'device.attributes["gpu.nvidia.com"].productName == "H100"',
        "device.attributes['gpu.nvidia.com'].cudaCapable",
        'device.attributes["numa.example.com"].node == 1',
        'device.capacity["numa.example.com"].bandwidth == quantity("1500")',
        'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("80Gi")) == 0',
        'device.capacity["gpu.nvidia.com"].memory.isGreaterThan(quantity("40Gi"))',
        'device.capacity["gpu.nvidia.com"].memory.isLessThan(quantity("141Gi"))',
        'device.capacity["gpu.nvidia.com"].memory == quantity("81920Mi")',
        'quantity("1") == quantity("1000m")',
        'quantity("500m").sign() == 1 && quantity("-1").sign() == -1 && quantity("0").sign() == 0',
        'quantity("1Gi").isInteger() && !quantity("500m").isInteger()',
        'quantity("1Ki").asInteger() == 1024',
        'quantity("1.5").asApproximateFloat() == 1.5',
        'quantity("1Gi").add(quantity("1Gi")) == quantity("2Gi")',
        'quantity("1Gi").sub(1) == quantity("1073741823")',
        'isQuantity("1.5Gi") && !isQuantity("1.5GB")',
        'device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("550.0.0"))',
        'device.attributes["gpu.nvidia.com"].driverVersion.major() == 550',
        'semver("1.2.3").minor() == 2 && semver("1.2.3").patch() == 3',
        'semver("1.0.0-rc.1").isLessThan(semver("1.0.0"))',
        'semver("1.0.0+a") == semver("1.0.0+b")',
        'semver("v1.2", true) == semver("1.2.0")',
        'isSemver("1.2.3") && !isSemver("v1.2") && isSemver("v1.2", true)',
        'semver("1.10.0").compareTo(semver("1.9.0")) == 1',
        'has(device.attributes["gpu.nvidia.com"].productName)',
        '!has(device.attributes["other.io"].productName)',
        'device.attributes["gpu.nvidia.com"].productName in ["H100", "H200"]',
        'device.attributes["gpu.nvidia.com"].exists(k, k == "cudaCapable")',
        '[1, 2, 3].all(x, x > 0) && [1, 2].exists_one(x, x == 2)',
        'quantity("bad") == quantity("1") || true',
    ],
)
def test_true(source):
    assert run(source)


@pytest.mark.parametrize(
    "source",
    [
        'device.driver == "other"',
        'device.attributes["gpu.nvidia.com"].missing == "x"',  # unknown name: error, not a match
        'device.attributes["unknown.io"].productName == "H100"',  # unknown domain is an empty map
        '!(device.attributes["unknown.io"].productName == "H100")',  # errors never turn into matches
        "1",  # non-boolean
        '"true"',
        'quantity("bad").sign() == 1',
        'quantity("1").compareTo(semver("1.0.0")) == 0',
        'quantity("500m").asInteger() == 0',
        "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, true))))",
    ],
)
def test_false_or_error_is_non_match(source):
    assert not run(source)


def test_budget_stops_hostile_selector_with_reason():
    hostile = "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, true))))"
    outcome = evaluate(compile_selector(hostile), device_value(DEVICE))
    assert not outcome.matched and "too costly" in (outcome.error or "")


def test_compile_error_carries_compiler_message():
    with pytest.raises(CompileError) as e:
        compile_selector('device.driver ==')
    assert "syntax error" in str(e.value)


def test_matcher_compiles_once_and_evaluates_once_per_device():
    m = DeviceMatcher()
    src = 'device.driver == "gpu.nvidia.com"'
    for _ in range(5):
        assert m.matches(src, DEVICE).matched
    assert m.compilations == 1 and m.evaluations == 1
    baseline = DeviceMatcher(cache=False)
    for _ in range(3):
        assert baseline.matches(src, DEVICE).matched
    assert baseline.compilations == 3


def test_matcher_returns_compile_errors_as_values():
    m = DeviceMatcher()
    assert isinstance(m.compile("1 +"), CompileError)
    assert not m.matches("1 +", DEVICE).matched
