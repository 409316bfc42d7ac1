"""Describe this machine's devices as an InferenceClass, the way a DRA driver would publish them.

NVIDIA GPUs are read through NVML (nvidia-ml-py) with the keys the NVIDIA DRA driver
publishes: driver `gpu.nvidia.com`, attributes `productName`, `architecture`,
`cudaComputeCapability`, `driverVersion`, `cudaDriverVersion`, capacity `memory`. Without a
GPU the class describes the CPU (cores, memory) under the driver `cpu.laneway.dev`. Reading
the hardware (`read_gpus`, `read_cpu`) is apart from building the class (`local_class`), so
the class can be tested from plain data, such as a fixture of what NVML reports on an H200.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from typing import Any, Protocol

from laneway.api.kinds.platform import (
    ClassDevice,
    DeviceAttribute,
    DeviceCapacity,
    InferenceClass,
    InferenceClassSpec,
)
from laneway.api.meta import ObjectMeta

GPU_DRIVER = "gpu.nvidia.com"
CPU_DRIVER = "cpu.laneway.dev"

# NVML_DEVICE_ARCH_* values, as nvml.h numbers them.
_ARCHITECTURES = {
    2: "Kepler",
    3: "Maxwell",
    4: "Pascal",
    5: "Volta",
    6: "Turing",
    7: "Ampere",
    8: "Ada",
    9: "Hopper",
    10: "Blackwell",
}


@dataclass(frozen=True)
class GpuInfo:
    name: str
    memory_mib: int
    compute_capability: str
    architecture: str


@dataclass(frozen=True)
class GpuInventory:
    driver_version: str
    cuda_driver_version: int
    gpus: tuple[GpuInfo, ...]


@dataclass(frozen=True)
class CpuInfo:
    model: str
    architecture: str
    cores: int
    memory_bytes: int


class Nvml(Protocol):
    """The slice of pynvml's API discovery uses, so tests can hand in a fake."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> str | bytes: ...
    def nvmlSystemGetCudaDriverVersion(self) -> int: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetArchitecture(self, handle: Any) -> int: ...


def normalize_version(text: str) -> str:
    """Versions as the DRA driver publishes them: semver with leading zeros dropped
    ('580.159.04' -> '580.159.4', '9.0' -> '9.0.0')."""
    parts = [str(int(p)) for p in re.findall(r"\d+", text)[:3]]
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def read_gpus(nvml: Nvml | None = None) -> GpuInventory | None:
    """The GPUs NVML reports, or None when there is no NVML or no GPU."""
    if nvml is None:
        try:
            import pynvml as nvml_module  # nvidia-ml-py
        except ImportError:
            return None
        nvml = nvml_module
    try:
        nvml.nvmlInit()
    except Exception:  # NVMLError when no driver is loaded: this machine has no usable GPU
        return None
    try:
        count = nvml.nvmlDeviceGetCount()
        if count == 0:
            return None
        gpus = []
        for i in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
            try:
                arch = _ARCHITECTURES.get(nvml.nvmlDeviceGetArchitecture(handle), "Unknown")
            except Exception:
                arch = "Unknown"
            gpus.append(
                GpuInfo(
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    memory_mib=int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024),
                    compute_capability=f"{major}.{minor}",
                    architecture=arch,
                )
            )
        return GpuInventory(
            driver_version=_text(nvml.nvmlSystemGetDriverVersion()),
            cuda_driver_version=int(nvml.nvmlSystemGetCudaDriverVersion()),
            gpus=tuple(gpus),
        )
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def read_cpu() -> CpuInfo:
    import psutil

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return CpuInfo(
        model=model,
        architecture=platform.machine(),
        cores=os.cpu_count() or 1,
        memory_bytes=psutil.virtual_memory().total,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "device"


def local_class(*, gpus: GpuInventory | None, cpu: CpuInfo) -> InferenceClass:
    """The class of this machine's one node: its GPUs when it has any, else its CPU.

    GPUs of one product form one DRA device entry with `count` = how many; a mixed machine
    gets one entry per product. The CPU is a Synthetic device: it constrains placement but is
    not claimed through DRA.
    """
    if gpus and gpus.gpus:
        by_product: dict[GpuInfo, int] = {}
        for g in gpus.gpus:
            by_product[g] = by_product.get(g, 0) + 1
        devices = [
            ClassDevice(
                name="gpu" if len(by_product) == 1 else f"gpu-{_slug(g.name)}",
                claim="DRA",
                driver=GPU_DRIVER,
                device_class_name=GPU_DRIVER,
                count=n,
                attributes={
                    "productName": DeviceAttribute(string=g.name),
                    "architecture": DeviceAttribute(string=g.architecture),
                    "cudaComputeCapability": DeviceAttribute(version=normalize_version(g.compute_capability)),
                    "driverVersion": DeviceAttribute(version=normalize_version(gpus.driver_version)),
                    "cudaDriverVersion": DeviceAttribute(
                        version=normalize_version(f"{gpus.cuda_driver_version // 1000}.{gpus.cuda_driver_version % 1000 // 10}")
                    ),
                },
                capacity={"memory": DeviceCapacity(value=f"{g.memory_mib}Mi")},
            )
            for g, n in by_product.items()
        ]
        first = gpus.gpus[0]
        name = f"local-{_slug(first.name)}"
        description = f"This machine: {len(gpus.gpus)} x {first.name}, discovered through NVML"
    else:
        devices = [
            ClassDevice(
                name="cpu",
                claim="Synthetic",
                driver=CPU_DRIVER,
                count=cpu.cores,
                attributes={
                    "model": DeviceAttribute(string=cpu.model[:63] or "unknown"),
                    "architecture": DeviceAttribute(string=cpu.architecture or "unknown"),
                },
                capacity={
                    "cores": DeviceCapacity(value=str(cpu.cores)),
                    "memory": DeviceCapacity(value=f"{cpu.memory_bytes // (1024 * 1024)}Mi"),
                },
            )
        ]
        name = "local-cpu"
        description = f"This machine: {cpu.cores} CPU cores ({cpu.model}), no GPU found"
    return InferenceClass(
        metadata=ObjectMeta(name=name, labels={"laneway.dev/discovered": "true"}),
        spec=InferenceClassSpec(description=description, devices=devices),
    )


def discover_local_class(nvml: Nvml | None = None) -> InferenceClass:
    return local_class(gpus=read_gpus(nvml), cpu=read_cpu())
