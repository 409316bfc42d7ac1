"""Discovery of this machine's devices, through a fake NVML built from a real H200's readings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from laneway.drivers.local.discovery import (
    CPU_DRIVER,
    GPU_DRIVER,
    CpuInfo,
    local_class,
    normalize_version,
    read_gpus,
)
from laneway.testing.nvml import RecordedNvml as FakeNvml

FIXTURE = Path(__file__).parents[2] / "fixtures" / "nvml-h200.json"


CPU = CpuInfo(model="Test CPU", architecture="x86_64", cores=2, memory_bytes=8 * 1024**3)


@pytest.fixture
def h200() -> dict:
    return json.loads(FIXTURE.read_text())


def test_h200_published_as_the_nvidia_dra_driver_does(h200: dict) -> None:
    nvml = FakeNvml(h200)
    cls = local_class(gpus=read_gpus(nvml), cpu=CPU)
    assert nvml.shut
    (device,) = cls.spec.devices
    assert device.driver == GPU_DRIVER and device.claim == "DRA" and device.device_class_name == GPU_DRIVER
    assert device.count == 1
    attrs = {k: v.value() for k, v in device.attributes.items()}
    assert attrs == {
        "productName": "NVIDIA H200",
        "architecture": "Hopper",
        "cudaComputeCapability": "9.0.0",
        "driverVersion": "580.159.4",
        "cudaDriverVersion": "13.0.0",
    }
    assert device.capacity["memory"].value == "143771Mi"
    assert cls.metadata.name == "local-nvidia-h200"


def test_eight_gpus_are_one_device_entry_with_count_eight(h200: dict) -> None:
    h200["devices"] = [dict(h200["devices"][0], index=i) for i in range(8)]
    cls = local_class(gpus=read_gpus(FakeNvml(h200)), cpu=CPU)
    assert [d.count for d in cls.spec.devices] == [8]


def test_without_nvml_the_cpu_is_published() -> None:
    assert read_gpus(FakeNvml({}, fail_init=True)) is None
    cls = local_class(gpus=None, cpu=CPU)
    (device,) = cls.spec.devices
    assert device.driver == CPU_DRIVER and device.claim == "Synthetic" and device.count == 2
    assert device.capacity["memory"].value == "8192Mi"
    assert cls.metadata.name == "local-cpu"


@pytest.mark.parametrize(
    "raw,expected", [("580.159.04", "580.159.4"), ("9.0", "9.0.0"), ("12", "12.0.0"), ("1.2.3.4", "1.2.3")]
)
def test_versions_are_normalized_to_semver(raw: str, expected: str) -> None:
    assert normalize_version(raw) == expected
