"""A fake NVML that answers from a recorded reading (`tests/fixtures/nvml-h200.json` was read
on a real H200 with nvidia-ml-py), so discovery and `laneway agent --nvml-fixture` can be run
on machines without a GPU: the tests give each agent its own device set this way."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class RecordedNvml:
    """Answers the pynvml calls discovery makes (`discovery.Nvml`) from a recorded reading."""

    def __init__(self, data: dict[str, Any], *, fail_init: bool = False) -> None:
        self.data = data
        self.fail_init = fail_init
        self.shut = False

    @classmethod
    def from_file(cls, path: Path) -> RecordedNvml:
        return cls(json.loads(path.read_text()))

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self.data["driverVersion"])

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self.data["cudaDriverVersion"])

    def nvmlDeviceGetCount(self) -> int:
        return len(self.data["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        device: dict[str, Any] = self.data["devices"][index]
        return device

    def nvmlDeviceGetName(self, handle: dict[str, Any]) -> bytes:
        return str(handle["name"]).encode()

    def nvmlDeviceGetMemoryInfo(self, handle: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(total=handle["memoryTotalBytes"])

    def nvmlDeviceGetCudaComputeCapability(self, handle: dict[str, Any]) -> tuple[int, int]:
        major, minor = str(handle["cudaComputeCapability"]).split(".")
        return int(major), int(minor)

    def nvmlDeviceGetArchitecture(self, handle: dict[str, Any]) -> int:
        return int(handle["architectureEnum"])


def with_devices(data: dict[str, Any], count: int) -> dict[str, Any]:
    """The reading as a machine with `count` of its first device would give it (0: no GPU)."""
    first = data["devices"][0]
    devices = [{**first, "index": i, "uuid": f"GPU-{i:08d}-0000-0000-0000-000000000000"} for i in range(count)]
    return {**data, "devices": devices}
