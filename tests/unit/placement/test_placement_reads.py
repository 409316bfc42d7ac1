"""Sharing evaluations between devices that agree on what a selector reads never changes an answer."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneway.api.kinds.platform import ClassDevice
from laneway.placement.dra import DeviceMatcher, compile_selector, device_value, evaluate
from laneway.placement.dra.reads import projection, reads

GPU = "gpu.nvidia.com"


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        ('device.driver == "x"', (("driver",),)),
        (f'device.capacity["{GPU}"].memory.compareTo(quantity("1Gi")) >= 0', (("capacity", GPU, "memory"),)),
        (f"device.attributes['{GPU}'].productName in ['A']", (("attributes", GPU, "productName"),)),
        ("device.attributes.gpu.productName == 'A'", (("attributes", "gpu", "productName"),)),
        (f'has(device.attributes["{GPU}"].x) && device.driver == "d"', (("attributes", GPU, "x"), ("driver",))),
        ('quantity("1") == quantity("1000m")', ()),
    ],
)
def test_fixed_paths_are_found(source, paths):
    assert reads(compile_selector(source).runner.ast) == paths


@pytest.mark.parametrize(
    "source",
    [
        f'"productName" in device.attributes["{GPU}"]',  # a whole domain map
        "size(device.attributes) > 0",  # the whole table
        'device.attributes["gpu" + ".nvidia.com"].x == 1',  # a computed domain
        f'device.attributes["{GPU}"]["productName"] == "A"',  # an indexed name
        '[1, 2].exists(device, device == 2)',  # a macro variable that shadows `device`
        'device == {}',
    ],
)
def test_other_reads_are_not_projected(source):
    assert reads(compile_selector(source).runner.ast) is None


def test_projection_tells_types_and_missing_apart():
    def dev(attributes):
        return device_value(ClassDevice.model_validate({"name": "d", "driver": GPU, "deviceClassName": GPU, "attributes": attributes}))

    paths = (("attributes", GPU, "x"),)
    as_int, as_bool, as_text = dev({"x": {"int": 1}}), dev({"x": {"bool": True}}), dev({"x": {"string": "1"}})
    keys = {projection(paths, d) for d in (as_int, as_bool, as_text, dev({}), dev({"y": {"int": 1}}))}  # no domain; domain without x
    assert len(keys) == 5
    missing_domain = projection((("attributes", "other.io", "x"),), as_int)
    missing_name = projection((("attributes", GPU, "y"),), as_int)
    assert missing_domain != missing_name


SELECTORS = [
    f'device.capacity["{GPU}"].memory.compareTo(quantity("80Gi")) >= 0',
    f'device.attributes["{GPU}"].productName in ["H100", "H200"]',
    f'device.attributes["{GPU}"].driverVersion.isGreaterThan(semver("550.0.0"))',
    f'has(device.attributes["{GPU}"].productName) && device.attributes["{GPU}"].productName.startsWith("H")',
    f'device.attributes["{GPU}"].cuda',
    f'device.attributes["{GPU}"].cuda == 1',
    f'device.capacity["{GPU}"].memory == quantity("81920Mi")',
    'device.driver == "gpu.nvidia.com"',
    f'device.attributes["{GPU}"].productName.size() > 3',
]

attribute_values = st.one_of(
    st.builds(lambda v: {"string": v}, st.sampled_from(["H100", "H200", "A100", "1", ""])),
    st.builds(lambda v: {"bool": v}, st.booleans()),
    st.builds(lambda v: {"int": v}, st.integers(0, 2)),
    st.builds(lambda v: {"version": v}, st.sampled_from(["535.1.0", "550.0.0", "550.0.0+b", "560.1.2-rc.1", "bad"])),
)
devices = st.builds(
    lambda driver, attrs, memory: ClassDevice.model_validate(
        {
            "name": "d",
            "driver": driver,
            "deviceClassName": driver,
            "attributes": attrs,
            "capacity": {"memory": {"value": memory}} if memory else {},
        }
    ),
    st.sampled_from([GPU, "other.io"]),
    st.dictionaries(st.sampled_from(["productName", "driverVersion", "cuda", f"{GPU}/cuda", "other.io/productName"]), attribute_values, max_size=4),
    st.sampled_from([None, "80Gi", "81920Mi", "40Gi", "141Gi", "80G"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(devices, min_size=1, max_size=6))
def test_shared_evaluations_equal_evaluating_each_device(devs):
    matcher = DeviceMatcher()
    for source in SELECTORS:
        program = compile_selector(source)
        for d in devs:
            assert matcher.matches(source, d) == evaluate(program, device_value(d)), (source, d)
